"""Phase 4, the report: the tutorial regenerated from what the stages wrote, and the review."""

"""Phase 1, the data: the keyword dataset (synthetic speech or BrainChip's) as uint8 MFCC."""

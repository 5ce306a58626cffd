"""Phase 3, edge learning: spikes, the Akida edge layer, its parameters and its table."""

"""Phase 2, the extractor: the Akida model that turns MFCC into binary spikes."""

"""Data in: media (images and videos as RGB frames), manifests and the training dataset, the
readers of BP4D, BP4D+, DISFA, GFT, Aff-Wild2 and plain folders, preparation (detect and
align once), and the SynthAU renderer. Imports the core and ``face``."""

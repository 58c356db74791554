"""Layer ``train``: fit and predict one arm on one fold — sampler, on-device augmentation,
checkpoints, Grad-CAM. Built by the model-arms issue; may import nets, cohort, protocol and
errors."""

"""Person detection, pose and activity from CSI: features, a numpy MLP, training and an
honest evaluation against baselines.

Modules: ``features`` (windows of frames -> feature vectors + quality), ``targets``
(truth in slot order), ``datasets`` (simulated data sets and their cache), ``network``
(the MLP, losses, Adam), ``model`` (model file, predictions), ``training`` (``wdp
train``), ``baselines``, ``matching``, ``evaluation`` (``wdp eval``).
"""

"""The built-in plugins of taxometer-kd.

Each module here is registered through the ``taxometer_kd`` entry-point group in
``pyproject.toml``, exactly like a third-party plugin would be.
"""

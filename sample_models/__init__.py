"""Small TensorFlow models, working and deliberately broken, for exercising ckptctl.

Importing this package does not import TensorFlow; the submodules do.
"""

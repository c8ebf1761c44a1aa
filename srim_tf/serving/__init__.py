"""Serving: a trained generator as a SavedModel for TF Serving (`saved_model`: its signatures
and `export`) and as a TensorFlow Lite file for devices (`tflite`). `requests` holds the
bounds every served request is checked against, `image_headers` the sizes encoded PNG/JPEG
files declare, read before any is decoded. Imports nothing from training: a server loads
the generator and the inference code only.
"""

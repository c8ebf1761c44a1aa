"""Evaluation by the field's conventions: `metrics` (Y-channel PSNR and SSIM with a border
crop, LR-PSNR, diversity, sharpness) and `evaluate`, which runs a method (bicubic, or any
model `inference.samplers` loads) over folders of HR images and tabulates the results.
"""

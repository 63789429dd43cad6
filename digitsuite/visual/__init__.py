"""Pictures that explain the CNN: what each layer computes (layerviz) and its
figures (layerfigures), and convolution and pooling on a photo.
"""

"""Pictures that explain the CNN: feature maps, filters and saliency of each
layer, and convolution and pooling on a photo.
"""

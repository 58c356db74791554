"""Layer ``nets``: torch modules — timm backbones, MUF-Net, fusion, losses. Built by the
model-arms issue; may import torch, timm and errors only."""

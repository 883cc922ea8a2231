# FRRN-B (Pohlen et al., CVPR 2017): FRRN-A with one more pooling level
# (scale 32) in the pooling stream.
_base_ = ['./frrn_a.py']
model = dict(backbone=dict(arch='B'))

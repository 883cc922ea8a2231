# Transferability-weighted finetuning (OTCE weights, eqs. 3-5): the hook
# scores the loaded source and writes the weight map, the loss weights each
# pixel by its location, the pipeline carries pixel coordinates.
# OTCE needs the source training data:
#   --cfg-options custom_hooks.0.source_dataset=configs/_base_/datasets/X.py
_base_ = ['./segnet_vgg16_adam-20k_cityscapes-jena-20img.py']
custom_hooks = [
    dict(type='TransferabilityHook', map_metric='otce', source_dataset=None)
]
model = dict(
    decode_head=dict(loss_decode=dict(type='TrfWeightedCrossEntropyLoss')))
train_dataloader = dict(dataset=dict(pipeline={{_base_.trf_train_pipeline}}))

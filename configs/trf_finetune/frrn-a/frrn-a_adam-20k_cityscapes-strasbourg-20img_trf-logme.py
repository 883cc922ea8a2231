# Transferability-weighted finetuning (LOGME weights, eqs. 3-5): the hook
# scores the loaded source and writes the weight map, the loss weights each
# pixel by its location, the pipeline carries pixel coordinates.
_base_ = ['./frrn-a_adam-20k_cityscapes-strasbourg-20img.py']
custom_hooks = [
    dict(type='TransferabilityHook', map_metric='logme', source_dataset=None)
]
model = dict(
    decode_head=dict(loss_decode=dict(type='TrfWeightedCrossEntropyLoss')))
train_dataloader = dict(dataset=dict(pipeline={{_base_.trf_train_pipeline}}))

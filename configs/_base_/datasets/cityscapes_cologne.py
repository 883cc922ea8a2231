# Target: Cityscapes cologne, 20 labelled images, the rest held out.
_base_ = ['./cityscapes_city.py']
city = 'cologne'
train_dataloader = dict(dataset=dict(city=city))
val_dataloader = dict(dataset=dict(city=city))
test_dataloader = val_dataloader
trf_dataset = dict(city=city)

"""Generated street scenes written in real dataset layouts (tests, demo)."""
from .layouts import (ade20k_index_of_train_id, cityscapes_id_of_train_id,
                      save_image, write_ade20k, write_bdd100k,
                      write_cityscapes, write_gta5, write_scenes)
from .scenes import NUM_CLASSES, SceneStyle, render_scene

__all__ = [
    'SceneStyle', 'render_scene', 'NUM_CLASSES', 'write_scenes',
    'write_cityscapes', 'write_bdd100k', 'write_gta5', 'write_ade20k',
    'save_image', 'cityscapes_id_of_train_id', 'ade20k_index_of_train_id'
]

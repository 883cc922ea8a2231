"""Generated street scenes written in real dataset layouts (tests, demo)."""
from .layouts import cityscapes_id_of_train_id, save_png, write_cityscapes
from .scenes import NUM_CLASSES, SceneStyle, render_scene

__all__ = [
    'SceneStyle', 'render_scene', 'NUM_CLASSES', 'write_cityscapes',
    'save_png', 'cityscapes_id_of_train_id'
]

"""MMSeg-side utilities: trusted checkpoint loading, config checks."""
from .checkpoint import (is_trusted, load_local_checkpoint,
                         resumable_checkpoint, trust_checkpoint,
                         trust_resumed_checkpoint)
from .config_checks import (check_checkpoint_path, check_data_paths,
                            dataset_paths)
from .dist import finalize_distributed, init_distributed
from .fields import build_checked, checked_fields
from .locking import hold_work_dir
from .options import KeyValueAction
from .run_config import load_run_config
from .yaml_files import read_yaml

__all__ = [
    'trust_checkpoint', 'trust_resumed_checkpoint', 'resumable_checkpoint',
    'is_trusted', 'load_local_checkpoint', 'check_data_paths',
    'check_checkpoint_path', 'dataset_paths', 'init_distributed',
    'finalize_distributed', 'load_run_config', 'checked_fields',
    'build_checked', 'read_yaml', 'KeyValueAction', 'hold_work_dir'
]

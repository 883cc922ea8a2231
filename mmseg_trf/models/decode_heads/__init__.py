from .fcn8s_head import FCN8sHead

__all__ = ['FCN8sHead']

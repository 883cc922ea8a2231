"""mmseg-trf: transferability estimation and transferability-weighted
finetuning for MMSegmentation."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    """Return ``__version__`` from ``mmseg_trf/version.py``."""
    namespace = {}
    with open(osp.join(HERE, 'mmseg_trf', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>.txt``, comments dropped."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='mmseg-trf',
    version=read_version(),
    description='Transferability estimation and transferability-weighted '
    'finetuning for MMSegmentation',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.8',
    # torch comes first and is installed on its own (CPU or CUDA build, the
    # user's choice), see tools/install_stack.sh.
    install_requires=['torch>=2.0'] + parse_requirements('runtime'),
    extras_require={'tests': parse_requirements('tests')},
    license='Apache License 2.0',
    zip_safe=False,
)

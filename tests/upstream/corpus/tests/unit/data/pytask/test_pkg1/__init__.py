#from dv_flow.mgr import Package

from .test_pkg1 import TestPkg1
from .task1 import Task1


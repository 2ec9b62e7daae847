import CFFTW

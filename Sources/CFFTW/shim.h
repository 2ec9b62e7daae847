// Do not include <complex.h> first: fftw_complex would then import as a Swift tuple of Doubles.
#include <fftw3.h>

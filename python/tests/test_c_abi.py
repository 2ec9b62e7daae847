"""The C header matches the library: a C program built against peaks.h detects, reports errors
and frees its results (skipped without a C compiler or outside the repository)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import peaks

HEADER_DIR = Path(__file__).resolve().parents[2] / "Sources" / "PeaksC" / "include"
LIBRARY = Path(os.environ.get("PEAKS_LIBRARY") or Path(peaks.__file__).parent / "libPeaksC.so")
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "peaks.h"

int main(void) {
    float img[8][10];
    memset(img, 0, sizeof img);
    img[2][7] = 5.0f;   /* x = 7, y = 2 */
    img[6][1] = 3.0f;   /* x = 1, y = 6 */
    int64_t shape[2] = {8, 10}, strides[2] = {10 * sizeof(float), sizeof(float)};
    peaks_array a = {img, PEAKS_DTYPE_FLOAT32, 2, shape, strides};
    const char *keys[] = {"prominence"}, *values[] = {"1"};
    peaks_result *r = peaks_detect(&a, NULL, "persistence", 1, keys, values, 0, 0);
    if (peaks_result_status(r) != PEAKS_OK) { printf("error %s\n", peaks_result_error(r)); return 1; }
    int64_t n = peaks_result_rows(r);
    int32_t m = peaks_result_columns(r);
    const double *d = peaks_result_data(r);
    printf("%s %s %s %d\n", peaks_version(), peaks_result_header(r), peaks_result_column_name(r, 0), (int)m);
    for (int64_t i = 0; i < n; i++) printf("%g %g %g\n", d[i * m], d[i * m + 1], d[i * m + 2]);
    peaks_result_free(r);
    r = peaks_detect(&a, NULL, "nope", 0, NULL, NULL, 0, 0);
    printf("%d %s\n", (int)peaks_result_status(r), peaks_result_error(r));
    peaks_result_free(r);
    peaks_result_free(NULL);
    return 0;
}
"""


@pytest.mark.skipif(CC is None, reason="no C compiler")
@pytest.mark.skipif(not (HEADER_DIR / "peaks.h").exists(), reason="not run from a repository checkout")
def test_c_program(tmp_path):
    src = tmp_path / "main.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "main"
    subprocess.run([CC, "-std=c99", "-Wall", "-Werror", "-I", str(HEADER_DIR), str(src), str(LIBRARY),
                    f"-Wl,-rpath,{LIBRARY.parent}", "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith(peaks.__version__ + " x,y,value,prominence")
    assert out[1:3] == ["7 2 5", "1 6 3"]
    assert out[3] == "1 parameter 'algo': unknown algorithm 'nope' (known: persistence, log, high-symmetry, template)"

// Templates and seeds of the structure-aware FuzzHDF5 target (docs/testing.md, "HDF5").
//
//   cc -I/usr/include/hdf5/serial make_hdf5_templates.c -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 \
//      -o /tmp/make_hdf5_templates && /tmp/make_hdf5_templates   (in Fuzz/Templates)
//
// 1. Writes FuzzHDF5/*.h5 with libhdf5 (3 x 8 x 8 uint16 stacks, one per filter pipeline);
//    FuzzHDF5/*.h5 made by make_c_corpus.py (h5py: gzip, bitshuffle-LZ4, NeXus, 4-D scan) are
//    kept as they are.
// 2. For every template, lists the raw data regions (each chunk's stored bytes from
//    H5Dget_chunk_info, or a contiguous dataset's bytes from H5Dget_offset) in regions.txt:
//    "file offset length" lines. The fuzz target overwrites only those bytes.
// 3. Writes ../Corpus/FuzzHDF5/<template>.seed: the template's index and its region bytes (the
//    input that reproduces the template unchanged).
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

static void make(const char *name, int (*setup)(hid_t dcpl)) {
    char path[256];
    snprintf(path, sizeof path, "FuzzHDF5/%s", name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {3, 8, 8}, chunk[3] = {1, 8, 8};
    hid_t space = H5Screate_simple(3, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    if (setup(dcpl) < 0) { fprintf(stderr, "%s: filter unavailable\n", name); exit(1); }
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_USHORT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    unsigned short v[3 * 8 * 8];
    unsigned s = 1;
    for (int i = 0; i < 3 * 8 * 8; i++) { s = s * 1103515245u + 12345u; v[i] = (unsigned short)((i % 8) * 100 + (s >> 16) % 50); }
    H5Dwrite(d, H5T_NATIVE_USHORT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d); H5Pclose(dcpl); H5Sclose(space); H5Fclose(f);
}

static int shuffle_deflate(hid_t p) { return H5Pset_shuffle(p) < 0 ? -1 : H5Pset_deflate(p, 6); }
static int fletcher_deflate(hid_t p) { return H5Pset_fletcher32(p) < 0 ? -1 : H5Pset_deflate(p, 1); }
static int nbit(hid_t p) { return H5Pset_nbit(p); }
static int scaleoffset(hid_t p) { return H5Pset_scaleoffset(p, H5Z_SO_INT, H5Z_SO_INT_MINBITS_DEFAULT); }
static int szip(hid_t p) { return H5Pset_szip(p, H5_SZIP_NN_OPTION_MASK, 8); }
static int lz4(hid_t p) { unsigned cd[1] = {0}; return H5Pset_filter(p, 32004, H5Z_FLAG_MANDATORY, 1, cd); }
static int lzf(hid_t p) { return H5Pset_filter(p, 32000, H5Z_FLAG_OPTIONAL, 0, NULL); }  // 128 noisy bytes: LZF gives up, chunks are stored with the filter skipped (mask 1)
static int bzip2(hid_t p) { unsigned cd[1] = {9}; return H5Pset_filter(p, 307, H5Z_FLAG_MANDATORY, 1, cd); }

static FILE *regions;
static char current[256];
static unsigned char *image; static long imageSize;
static unsigned char seed[1 << 20]; static size_t seedLen;

static void region(haddr_t a, hsize_t n) {
    fprintf(regions, "%s %llu %llu\n", current, (unsigned long long)a, (unsigned long long)n);
    memcpy(seed + seedLen, image + a, n);
    seedLen += n;
}

static herr_t visit(hid_t g, const char *name, const H5L_info_t *i, void *u) {
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0 || H5Iget_type(o) != H5I_DATASET) { if (o >= 0) H5Oclose(o); return 0; }
    hid_t p = H5Dget_create_plist(o), s = H5Dget_space(o);
    if (H5Pget_layout(p) == H5D_CHUNKED) {
        hsize_t n = 0, off[32], size; unsigned mask; haddr_t a;
        H5Dget_num_chunks(o, s, &n);
        for (hsize_t k = 0; k < n; k++) { H5Dget_chunk_info(o, s, k, off, &mask, &a, &size); region(a, size); }
    } else if (H5Pget_layout(p) == H5D_CONTIGUOUS) {
        region(H5Dget_offset(o), H5Dget_storage_size(o));
    }
    H5Sclose(s); H5Pclose(p); H5Oclose(o);
    return 0;
}

static int byname(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    make("shuffle_deflate.h5", shuffle_deflate);
    make("fletcher32_deflate.h5", fletcher_deflate);
    make("nbit.h5", nbit);
    make("scaleoffset.h5", scaleoffset);
    make("szip.h5", szip);
    make("lz4.h5", lz4);
    make("lzf.h5", lzf);
    make("bzip2.h5", bzip2);
    // Every template in name order (the fuzz target indexes them in the same order).
    char *names[64]; int count = 0;
    DIR *d = opendir("FuzzHDF5");
    struct dirent *e;
    while ((e = readdir(d)) && count < 64) {
        size_t l = strlen(e->d_name);
        if (l > 3 && (!strcmp(e->d_name + l - 3, ".h5") || !strcmp(e->d_name + l - 4, ".nxs"))) names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, byname);
    regions = fopen("FuzzHDF5/regions.txt", "w");
    for (int t = 0; t < count; t++) {
        char path[300];
        snprintf(current, sizeof current, "%s", names[t]);
        snprintf(path, sizeof path, "FuzzHDF5/%s", names[t]);
        FILE *fp = fopen(path, "rb"); fseek(fp, 0, SEEK_END); imageSize = ftell(fp); rewind(fp);
        image = malloc(imageSize); fread(image, 1, imageSize, fp); fclose(fp);
        seed[0] = (unsigned char)t; seedLen = 1;
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, NULL);
        H5Fclose(f);
        snprintf(path, sizeof path, "../Corpus/FuzzHDF5/%s.seed", names[t]);
        fp = fopen(path, "wb"); fwrite(seed, 1, seedLen, fp); fclose(fp);
        free(image);
    }
    fclose(regions);
    return 0;
}

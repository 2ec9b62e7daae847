/*
 * cpng: a small C shim around libpng's full API for peaks' ImageIO module.
 *
 * libpng reports errors by longjmp. Swift cannot call setjmp, and libpng's default error
 * handler aborts the process, so every libpng call is made here, behind setjmp, with
 * error/warning handlers that copy libpng's message into a cpng_error and return a code.
 * A corrupt, truncated or hostile file therefore yields an error code, never an abort.
 *
 * All functions are reentrant: each call owns its own libpng structures, so they may be
 * called from several threads at once. No function prints anything.
 */
#ifndef CPNG_H
#define CPNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes (cpng_error.code and the functions' return values). */
enum {
    CPNG_OK = 0,
    CPNG_ERR_ARGUMENT = 1,   /* bad parameters from the caller (NULL pointer, bad channels...) */
    CPNG_ERR_SIGNATURE = 2,  /* the bytes do not start with the 8-byte PNG signature */
    CPNG_ERR_LIBPNG = 3,     /* libpng rejected the data (corrupt, truncated, CRC error...) */
    CPNG_ERR_TOO_LARGE = 4,  /* the decoded samples would exceed the caller's byte limit */
    CPNG_ERR_NO_MEMORY = 5,  /* an allocation failed */
    CPNG_ERR_UNSUPPORTED = 6 /* a layout this shim does not produce (should not happen) */
};

#define CPNG_MESSAGE_CAPACITY 256

/* What went wrong: a code and a NUL-terminated one-line message (libpng's own message for
 * CPNG_ERR_LIBPNG). `warning` holds the first libpng warning, if any (not an error). */
typedef struct cpng_error {
    int code;
    char message[CPNG_MESSAGE_CAPACITY];
    char warning[CPNG_MESSAGE_CAPACITY];
} cpng_error;

/* A decoded image: `samples` holds height rows of width*channels interleaved samples, top row
 * first, without padding. bit_depth 8: one uint8_t per sample; bit_depth 16: one native-endian
 * uint16_t per sample. Release with cpng_image_free. */
typedef struct cpng_image {
    uint32_t width;
    uint32_t height;
    int channels;           /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int bit_depth;          /* 8 or 16 */
    void *samples;          /* malloc'ed; NULL after an error */
    size_t sample_count;    /* width * height * channels */
    int source_color_type;  /* PNG_COLOR_TYPE_* of the file (3 = palette) */
    int source_bit_depth;   /* bit depth in the file: 1, 2, 4, 8 or 16 */
    int interlaced;         /* 1 if the file is Adam7-interlaced */
} cpng_image;

/* Decodes a whole PNG file held in memory.
 *
 * Transformations applied (and no others): palette -> RGB (RGBA when the file has tRNS);
 * gray of 1/2/4 bits -> 8 bits (libpng scales: 1-bit 1 -> 255, 2-bit 3 -> 255, 4-bit 15 -> 255);
 * 16-bit samples -> native byte order; Adam7 interlacing undone. No gamma, sRGB, iCCP, sBIT or
 * colour conversion: 16-bit samples come back exactly as stored whatever those chunks say.
 * tRNS on gray or RGB images is ignored (the samples are returned as stored, no alpha added).
 *
 * max_sample_bytes: refuse (CPNG_ERR_TOO_LARGE) images whose decoded samples would need more
 * bytes; 0 means no limit other than size_t overflow. The header is checked before any pixel
 * memory is allocated.
 * Returns CPNG_OK and fills *out, or an error code (also in err->code) with *out zeroed. */
int cpng_decode(const uint8_t *data, size_t size, size_t max_sample_bytes,
                cpng_image *out, cpng_error *err);

/* Frees the samples of a decoded image (safe on a zeroed or already freed image). */
void cpng_image_free(cpng_image *image);

/* A growable byte buffer holding an encoded PNG. Release with cpng_buffer_free. */
typedef struct cpng_buffer {
    uint8_t *data;
    size_t size;
    size_t capacity;
} cpng_buffer;

/* What to encode: height rows of width*channels interleaved samples, top row first.
 * bit_depth 8: uint8_t samples; bit_depth 16: native-endian uint16_t samples. */
typedef struct cpng_encode_params {
    uint32_t width;          /* 1 ... 2^31-1 */
    uint32_t height;         /* 1 ... 2^31-1 */
    int channels;            /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int bit_depth;           /* 8 or 16 */
    int interlaced;          /* 0: none, 1: Adam7 */
    const void *samples;
} cpng_encode_params;

/* Encodes to PNG in memory. Output is deterministic: no tIME, text, gamma or other ancillary
 * chunks; default zlib level and libpng's default filter choice. On success *out holds the
 * file (free with cpng_buffer_free); on error *out is zeroed. */
int cpng_encode(const cpng_encode_params *params, cpng_buffer *out, cpng_error *err);

/* Frees an encoded buffer (safe on a zeroed or already freed buffer). */
void cpng_buffer_free(cpng_buffer *buffer);

/* libpng's run-time version number, e.g. 10639 for 1.6.39. */
int cpng_libpng_version(void);

#ifdef __cplusplus
}
#endif

#endif /* CPNG_H */

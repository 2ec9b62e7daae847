/* cpng: libpng full-API shim with setjmp-based error recovery. See include/cpng.h. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpng.h"

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void set_message(char *dst, const char *src) {
    size_t i = 0;
    if (src == NULL) src = "unknown libpng error";
    /* Copy, keeping the message on one line. */
    for (; src[i] != '\0' && i + 1 < CPNG_MESSAGE_CAPACITY; i++) {
        char c = src[i];
        dst[i] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    dst[i] = '\0';
}

static void fail(cpng_error *err, int code, const char *message) {
    err->code = code;
    set_message(err->message, message);
}

/* libpng error handler: record the message, then longjmp back to the setjmp in our caller.
 * A code already set (e.g. CPNG_ERR_NO_MEMORY by our own callbacks) is kept. */
static void on_error(png_structp png, png_const_charp message) {
    cpng_error *err = (cpng_error *)png_get_error_ptr(png);
    if (err != NULL) {
        if (err->code == CPNG_OK) err->code = CPNG_ERR_LIBPNG;
        set_message(err->message, message);
    }
    png_longjmp(png, 1);
}

/* libpng warning handler: keep the first warning, print nothing. */
static void on_warning(png_structp png, png_const_charp message) {
    cpng_error *err = (cpng_error *)png_get_error_ptr(png);
    if (err != NULL && err->warning[0] == '\0') set_message(err->warning, message);
}

/* ---------------------------------------------------------------- decoding */

typedef struct read_source {
    const uint8_t *data;
    size_t size;
    size_t position;
} read_source;

static void read_from_memory(png_structp png, png_bytep dst, png_size_t length) {
    read_source *src = (read_source *)png_get_io_ptr(png);
    if (src == NULL || length > src->size - src->position) {
        png_error(png, "truncated file (unexpected end of data)");
    }
    memcpy(dst, src->data + src->position, length);
    src->position += length;
}

int cpng_decode(const uint8_t *data, size_t size, size_t max_sample_bytes,
                cpng_image *out, cpng_error *err) {
    cpng_error scratch;
    if (err == NULL) err = &scratch;
    memset(err, 0, sizeof *err);
    if (out == NULL || (data == NULL && size > 0)) {
        fail(err, CPNG_ERR_ARGUMENT, "cpng_decode: NULL argument");
        return err->code;
    }
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        fail(err, CPNG_ERR_SIGNATURE, "not a PNG file (bad signature)");
        return err->code;
    }

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, on_error, on_warning);
    if (png == NULL) {
        fail(err, CPNG_ERR_NO_MEMORY, "out of memory (png_create_read_struct)");
        return err->code;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        fail(err, CPNG_ERR_NO_MEMORY, "out of memory (png_create_info_struct)");
        return err->code;
    }

    read_source source = { data, size, 0 };
    /* Assigned after setjmp and read after a longjmp: must be volatile. */
    png_bytep *volatile rows = NULL;
    void *volatile samples = NULL;

    if (setjmp(png_jmpbuf(png))) {
        /* libpng (or our read callback) called png_error: err is filled in. */
        free(rows);
        free(samples);
        png_destroy_read_struct(&png, &info, NULL);
        memset(out, 0, sizeof *out);
        if (err->code == CPNG_OK) fail(err, CPNG_ERR_LIBPNG, "unknown libpng error");
        return err->code;
    }

    png_set_read_fn(png, &source, read_from_memory);
    /* Our own size check below gives a clearer message than libpng's 1,000,000 limit. */
    png_set_user_limits(png, 0x7fffffffU, 0x7fffffffU);
#ifdef PNG_BENIGN_ERRORS_SUPPORTED
    png_set_benign_errors(png, 1); /* e.g. a bad iCCP profile: warn, do not fail */
#endif
#if defined(PNG_SET_OPTION_SUPPORTED) && defined(PNG_SKIP_sRGB_CHECK_PROFILE)
    png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
#endif

    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);

    /* The layout after our transformations, known from the header alone, so that the size
     * guards run before libpng allocates anything proportional to the image. */
    int channels = 0;
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2; break;
    case PNG_COLOR_TYPE_RGB: channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: channels = 4; break;
    case PNG_COLOR_TYPE_PALETTE: channels = png_get_valid(png, info, PNG_INFO_tRNS) ? 4 : 3; break;
    default:
        err->code = CPNG_ERR_UNSUPPORTED;
        png_error(png, "unsupported colour type");
    }
    const int out_depth = bit_depth == 16 ? 16 : 8;

    /* Size guards: width * height * channels * bytes, with overflow checks. */
    const size_t bytes_per_sample = (size_t)(out_depth / 8);
    const size_t w = (size_t)width, h = (size_t)height;
    size_t sample_count = 0, total_bytes = 0;
    int overflow = w == 0 || h == 0
        || w > SIZE_MAX / h
        || w * h > SIZE_MAX / (size_t)channels;
    if (!overflow) {
        sample_count = w * h * (size_t)channels;
        overflow = sample_count > SIZE_MAX / bytes_per_sample;
        if (!overflow) total_bytes = sample_count * bytes_per_sample;
    }
    if (overflow || (max_sample_bytes > 0 && total_bytes > max_sample_bytes)) {
        char message[CPNG_MESSAGE_CAPACITY];
        if (max_sample_bytes > 0) {
            snprintf(message, sizeof message,
                     "image too large: %lu x %lu pixels x %d channel(s) x %d bits exceeds the limit of %lu bytes",
                     (unsigned long)width, (unsigned long)height, channels, out_depth,
                     (unsigned long)max_sample_bytes);
        } else {
            snprintf(message, sizeof message, "image too large: %lu x %lu pixels x %d channel(s) x %d bits",
                     (unsigned long)width, (unsigned long)height, channels, out_depth);
        }
        err->code = CPNG_ERR_TOO_LARGE;
        png_error(png, message);
    }
    if (h > SIZE_MAX / sizeof(png_bytep)) {
        err->code = CPNG_ERR_TOO_LARGE;
        png_error(png, "image too large: too many rows");
    }

    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    if (interlace != PNG_INTERLACE_NONE) (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);

    /* libpng must agree with the layout computed above. */
    const size_t row_bytes = png_get_rowbytes(png, info);
    if ((int)png_get_channels(png, info) != channels || (int)png_get_bit_depth(png, info) != out_depth
        || row_bytes != w * (size_t)channels * bytes_per_sample) {
        err->code = CPNG_ERR_UNSUPPORTED;
        png_error(png, "unexpected sample layout after transformations");
    }

    samples = malloc(total_bytes);
    rows = (png_bytep *)malloc(h * sizeof(png_bytep));
    if (samples == NULL || rows == NULL) {
        err->code = CPNG_ERR_NO_MEMORY;
        png_error(png, "out of memory for the decoded image");
    }
    for (size_t y = 0; y < h; y++) rows[y] = (png_bytep)samples + y * row_bytes;

    png_read_image(png, rows);   /* handles every interlace pass */
    png_read_end(png, NULL);     /* checks the chunks after the image data, up to IEND */

    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bit_depth = out_depth;
    out->samples = samples;
    out->sample_count = sample_count;
    out->source_color_type = color_type;
    out->source_bit_depth = bit_depth;
    out->interlaced = interlace != PNG_INTERLACE_NONE;

    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return CPNG_OK;
}

void cpng_image_free(cpng_image *image) {
    if (image == NULL) return;
    free(image->samples);
    image->samples = NULL;
    image->sample_count = 0;
}

/* ---------------------------------------------------------------- encoding */

static void write_to_memory(png_structp png, png_bytep src, png_size_t length) {
    cpng_buffer *buffer = (cpng_buffer *)png_get_io_ptr(png);
    if (length > SIZE_MAX - buffer->size) {
        ((cpng_error *)png_get_error_ptr(png))->code = CPNG_ERR_NO_MEMORY;
        png_error(png, "encoded PNG too large");
    }
    size_t needed = buffer->size + length;
    if (needed > buffer->capacity) {
        size_t capacity = buffer->capacity < 4096 ? 4096 : buffer->capacity;
        while (capacity < needed) {
            if (capacity > SIZE_MAX / 2) { capacity = needed; break; }
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(buffer->data, capacity);
        if (grown == NULL) {
            ((cpng_error *)png_get_error_ptr(png))->code = CPNG_ERR_NO_MEMORY;
            png_error(png, "out of memory while encoding");
        }
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, src, length);
    buffer->size = needed;
}

static void flush_memory(png_structp png) { (void)png; }

int cpng_encode(const cpng_encode_params *params, cpng_buffer *out, cpng_error *err) {
    cpng_error scratch;
    if (err == NULL) err = &scratch;
    memset(err, 0, sizeof *err);
    if (out == NULL || params == NULL) {
        fail(err, CPNG_ERR_ARGUMENT, "cpng_encode: NULL argument");
        return err->code;
    }
    memset(out, 0, sizeof *out);
    const size_t w = params->width, h = params->height;
    if (params->samples == NULL || w == 0 || h == 0) {
        fail(err, CPNG_ERR_ARGUMENT, "cannot encode an empty image as PNG (width and height must be at least 1)");
        return err->code;
    }
    if (params->channels < 1 || params->channels > 4) {
        fail(err, CPNG_ERR_ARGUMENT, "channels must be 1, 2, 3 or 4");
        return err->code;
    }
    if (params->bit_depth != 8 && params->bit_depth != 16) {
        fail(err, CPNG_ERR_ARGUMENT, "bit depth must be 8 or 16");
        return err->code;
    }
    const size_t bytes_per_sample = (size_t)(params->bit_depth / 8);
    if (w > SIZE_MAX / ((size_t)params->channels * bytes_per_sample)
        || h > SIZE_MAX / sizeof(png_bytep)) {
        fail(err, CPNG_ERR_TOO_LARGE, "image too large to encode");
        return err->code;
    }
    const size_t row_bytes = w * (size_t)params->channels * bytes_per_sample;

    static const int color_types[5] = {
        0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA
    };

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, on_error, on_warning);
    if (png == NULL) {
        fail(err, CPNG_ERR_NO_MEMORY, "out of memory (png_create_write_struct)");
        return err->code;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        fail(err, CPNG_ERR_NO_MEMORY, "out of memory (png_create_info_struct)");
        return err->code;
    }

    png_bytep *volatile rows = NULL;

    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_write_struct(&png, &info);
        cpng_buffer_free(out);
        if (err->code == CPNG_OK) fail(err, CPNG_ERR_LIBPNG, "unknown libpng error");
        return err->code;
    }

    png_set_write_fn(png, out, write_to_memory, flush_memory);
    png_set_IHDR(png, info, (png_uint_32)params->width, (png_uint_32)params->height,
                 params->bit_depth, color_types[params->channels],
                 params->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (params->bit_depth == 16 && host_is_little_endian()) png_set_swap(png);

    rows = (png_bytep *)malloc(h * sizeof(png_bytep));
    if (rows == NULL) {
        err->code = CPNG_ERR_NO_MEMORY;
        png_error(png, "out of memory (row pointers)");
    }
    for (size_t y = 0; y < h; y++) {
        rows[y] = (png_bytep)((const uint8_t *)params->samples + y * row_bytes);
    }
    png_write_image(png, rows); /* calls png_set_interlace_handling itself */
    png_write_end(png, NULL);

    free(rows);
    png_destroy_write_struct(&png, &info);
    return CPNG_OK;
}

void cpng_buffer_free(cpng_buffer *buffer) {
    if (buffer == NULL) return;
    free(buffer->data);
    buffer->data = NULL;
    buffer->size = 0;
    buffer->capacity = 0;
}

int cpng_libpng_version(void) { return (int)png_access_version_number(); }

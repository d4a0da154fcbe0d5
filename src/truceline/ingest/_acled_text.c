/* ACLED cells as text: str.strip()'s range, RFC 8785 strings, codes, dates and decimal cells. Included by
 * _acled_rows.c (one translation unit, so these helpers inline into the row checks). */

typedef struct {
    Py_ssize_t a, b; /* stripped range in code points */
} Span;

static inline Py_UCS4
ch(PyObject *s, Py_ssize_t i)
{
    return PyUnicode_READ(PyUnicode_KIND(s), PyUnicode_DATA(s), i);
}

/* str.strip()'s range (Py_UNICODE_ISSPACE is what str.strip uses). */
static Span
strip(PyObject *s)
{
    Span sp = {0, PyUnicode_GET_LENGTH(s)};
    while (sp.a < sp.b && Py_UNICODE_ISSPACE(ch(s, sp.a))) {
        sp.a++;
    }
    while (sp.b > sp.a && Py_UNICODE_ISSPACE(ch(s, sp.b - 1))) {
        sp.b--;
    }
    return sp;
}

/* ASCII bytes a JSON string escapes: control characters, '"' and '\\' (0x7f is written as it is). */
static const unsigned char needs_escape[128] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* A JSON string of s[a:b] as RFC 8785 (and orjson) write it: 1 written, 0 a surrogate (the row way), -1 error. */
static int
put_string(Buf *b, PyObject *s, Py_ssize_t a, Py_ssize_t e)
{
    static const char hex[] = "0123456789abcdef";
    if (tl_buf_put(b, "\"", 1) < 0) {
        return -1;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    if (PyUnicode_IS_ASCII(s)) {
        const char *p = (const char *)data;
        Py_ssize_t run = a;
        for (Py_ssize_t i = a; i < e; i++) {
            /* eight bytes at a time while none is below 0x20, '"' or '\\' (ASCII: every byte < 0x80) */
            while (e - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
                uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
                if (((w - ones * 0x20) | (q - ones) | (bs - ones)) & highs) {
                    break; /* some byte may need escaping (a conservative test): look at them one by one */
                }
                i += 8;
            }
            if (i >= e) {
                break;
            }
            unsigned char c = (unsigned char)p[i];
            if (!needs_escape[c]) {
                continue;
            }
            if (tl_buf_put(b, p + run, i - run) < 0) {
                return -1;
            }
            run = i + 1;
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            const char *short_esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                                  : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if ((short_esc ? tl_buf_put(b, short_esc, 2) : tl_buf_put(b, esc, 6)) < 0) {
                return -1;
            }
        }
        if (tl_buf_put(b, p + run, e - run) < 0) {
            return -1;
        }
        return tl_buf_put(b, "\"", 1) < 0 ? -1 : 1;
    }
    for (Py_ssize_t i = a; i < e; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        char out[6];
        int n = 0;
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\') {
                out[n++] = (char)c;
            } else {
                const char *short_esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                                      : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
                if (short_esc) {
                    out[n++] = short_esc[0];
                    out[n++] = short_esc[1];
                } else {
                    out[n++] = '\\';
                    out[n++] = 'u';
                    out[n++] = '0';
                    out[n++] = '0';
                    out[n++] = hex[c >> 4];
                    out[n++] = hex[c & 15];
                }
            }
        } else if (c < 0x800) {
            out[n++] = (char)(0xC0 | (c >> 6));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            if (c >= 0xD800 && c <= 0xDFFF) {
                return 0;
            }
            out[n++] = (char)(0xE0 | (c >> 12));
            out[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | (c >> 18));
            out[n++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (c & 0x3F));
        }
        if (tl_buf_put(b, out, n) < 0) {
            return -1;
        }
    }
    return tl_buf_put(b, "\"", 1) < 0 ? -1 : 1;
}

/* A one-character cell (after strip) that is '1', '2' or '3': its value, else 0. */
static int
code123(PyObject *s)
{
    Span sp = strip(s);
    if (sp.b - sp.a != 1) {
        return 0;
    }
    Py_UCS4 c = ch(s, sp.a);
    return c >= '1' && c <= '3' ? (int)(c - '0') : 0;
}

/* A stripped ASCII cell's bytes into out (at most cap bytes): its length, or -1 when not ASCII or too long. */
static Py_ssize_t
ascii_cell(PyObject *s, Span sp, char *out, Py_ssize_t cap)
{
    Py_ssize_t n = sp.b - sp.a;
    if (!PyUnicode_IS_ASCII(s) || n > cap) {
        return -1;
    }
    memcpy(out, (const char *)PyUnicode_DATA(s) + sp.a, (size_t)n);
    return n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* A number cell (stripped, plain DECIMAL, finite, within [-limit, limit]) written as RFC 8785: 1, 0 the row way, -1. */
static int
number(Buf *b, PyObject *s, double limit, double *out)
{
    char text[65];
    Py_ssize_t n = ascii_cell(s, strip(s), text, (Py_ssize_t)sizeof text - 1);
    if (n >= 0) {
        text[n] = '\0'; /* PyOS_string_to_double (tl_read_double's slow path) reads up to a character that ends a number */
    }
    if (n <= 0 || !tl_is_decimal(text, n) || !tl_read_double(text, n, out) || !(*out >= -limit && *out <= limit)) {
        return 0;
    }
    int w = tl_put_cell_number(b, text, n);
    if (w == 0) {
        w = tl_put_double(b, *out) < 0 ? -1 : 1;
    }
    return w;
}

/* An attribute member '"key":"value"' of a stripped cell cut at MAX_TEXT code points, when not empty. */
static int
text_member(Buf *b, int *first, const char *key, PyObject *s)
{
    Span sp = strip(s);
    if (sp.a == sp.b) {
        return 1;
    }
    if (sp.b - sp.a > MAX_TEXT) {
        sp.b = sp.a + MAX_TEXT;
    }
    if ((*first ? 0 : tl_buf_put(b, ",", 1)) < 0 || tl_buf_put(b, key, (Py_ssize_t)strlen(key)) < 0) {
        return -1;
    }
    *first = 0;
    return put_string(b, s, sp.a, sp.b);
}

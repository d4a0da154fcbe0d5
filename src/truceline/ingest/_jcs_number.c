/* Decimal text and doubles as RFC 8785 (JCS) and Python read and write them, without a Python call per number.
 *
 * RFC 8785 writes a number as ECMAScript's Number::toString does, from the shortest digits that round-trip
 * (truceline/ledger/canonical.py: _number, the reference). Here those digits come from Python's own repr
 * (PyOS_double_to_string 'r'), or, for a decimal cell of at most 15 significant digits in the normal range,
 * from the cell itself: a decimal of <= 15 significant digits is the only one of that length or shorter
 * that rounds to its double (DBL_DIG = 15), so it is what repr gives. Cells are read as float() reads them
 * (Clinger's exact fast path, else PyOS_string_to_double, float()'s own). tests/test_firms_compiled.py
 * checks every function against canonical_json, float() and format().
 */
#include "_jcs_number.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Whether [s, s+n) is DECIMAL: [+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)? */
TL_HIDDEN int
tl_is_decimal(const char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0, whole = 0, frac = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        whole++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac++;
        }
    }
    if (whole == 0 && frac == 0) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        Py_ssize_t digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
        if (digits == 0) {
            return 0;
        }
    }
    return i == n;
}

/* ECMAScript Number::toString of sign, significant digits d[0..k) (no leading or trailing zero) and the
 * decimal point position n (value = 0.d * 10^n), as canonical.py's _number lays it out. */
static int
put_es(Buf *b, int negative, const char *d, int k, int n)
{
    char out[64];
    int o = 0;
    if (negative) {
        out[o++] = '-';
    }
    if (k <= n && n <= 21) {
        memcpy(out + o, d, (size_t)k);
        o += k;
        for (int i = k; i < n; i++) {
            out[o++] = '0';
        }
    }
    else if (0 < n && n <= 21) {
        memcpy(out + o, d, (size_t)n);
        o += n;
        out[o++] = '.';
        memcpy(out + o, d + n, (size_t)(k - n));
        o += k - n;
    }
    else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -n; i++) {
            out[o++] = '0';
        }
        memcpy(out + o, d, (size_t)k);
        o += k;
    }
    else {
        int e = n - 1;
        out[o++] = d[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, d + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += snprintf(out + o, sizeof(out) - (size_t)o, "e%c%d", e >= 0 ? '+' : '-', e >= 0 ? e : -e);
    }
    return tl_buf_put(b, out, o);
}

/* A finite double as RFC 8785 writes it, from Python's shortest round-trip digits (repr). */
TL_HIDDEN int
tl_put_double(Buf *b, double v)
{
    if (v == 0.0) {
        return tl_buf_put(b, "0", 1); /* also -0.0, as in ECMAScript */
    }
    char *r = PyOS_double_to_string(fabs(v), 'r', 0, 0, NULL);
    if (r == NULL) {
        return -1;
    }
    char digits[32];
    int k = 0, n = 0, seen_point = 0, exponent = 0;
    const char *c = r;
    for (; *c && *c != 'e'; c++) {
        if (*c == '.') {
            seen_point = 1;
        }
        else if (k < (int)sizeof(digits)) {
            digits[k++] = *c;
            if (!seen_point) {
                n++;
            }
        }
    }
    if (*c == 'e') {
        exponent = atoi(c + 1);
    }
    PyMem_Free(r);
    n += exponent;
    int lead = 0;
    while (lead < k && digits[lead] == '0') {
        lead++;
    }
    while (k > lead && digits[k - 1] == '0') {
        k--;
    }
    return put_es(b, v < 0, digits + lead, k - lead, n - lead);
}

/* A DECIMAL cell's canonical number from its own digits when it has at most 15 significant digits and a
 * magnitude well inside the normal range (then they are Python's shortest round-trip digits). Returns 1
 * when written, 0 when the cell needs the double (tl_put_double), -1 on error. */
TL_HIDDEN int
tl_put_cell_number(Buf *b, const char *s, Py_ssize_t len)
{
    char digits[16];
    int k = 0, n = 0, negative = 0, started = 0;
    Py_ssize_t i = 0;
    if (s[i] == '+' || s[i] == '-') {
        negative = s[i] == '-';
        i++;
    }
    int before_point = 1;
    for (; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
        char c = s[i];
        if (c == '.') {
            before_point = 0;
            continue;
        }
        if (!started && c == '0') {
            if (!before_point) {
                n--; /* a leading zero after the point moves the first significant digit right */
            }
            continue;
        }
        if (!started) {
            started = 1;
        }
        if (k == 15) {
            /* a 16th significant digit: only trailing zeros may follow */
            if (c != '0') {
                return 0;
            }
            if (before_point) {
                n++;
            }
            continue;
        }
        digits[k++] = c;
        if (before_point) {
            n++;
        }
    }
    if (!started) {
        return tl_buf_put(b, "0", 1) == 0 ? 1 : -1; /* zero, any sign: "0" */
    }
    /* trailing zeros counted while k < 15 are stripped here; a zero past the 15th digit was not stored */
    while (k > 0 && digits[k - 1] == '0') {
        k--;
    }
    if (i < len) { /* exponent */
        i++;
        int exp_negative = 0;
        if (s[i] == '+' || s[i] == '-') {
            exp_negative = s[i] == '-';
            i++;
        }
        while (i < len && s[i] == '0') {
            i++;
        }
        if (len - i > 4) {
            return 0;
        }
        int e = 0;
        for (; i < len; i++) {
            e = e * 10 + (s[i] - '0');
        }
        n += exp_negative ? -e : e;
    }
    if (n < -290 || n > 290) {
        return 0;
    }
    return put_es(b, negative, digits, k, n) == 0 ? 1 : -1;
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A DECIMAL cell as a finite double, exactly as Python's float() reads it; 0 if not finite. Cells of at most
 * 15 significant digits and a power of ten within 10^+-22 take Clinger's fast path (the digits and the power
 * are exact doubles, so one correctly rounded multiplication or division gives the correctly rounded
 * value); any other goes through PyOS_string_to_double, which is float()'s own conversion. */
TL_HIDDEN int
tl_read_double(const char *s, Py_ssize_t n, double *out)
{
    Py_ssize_t i = 0;
    int negative = 0, digits = 0, exponent = 0, fraction = 0, point = 0;
    uint64_t m = 0;
    if (s[i] == '+' || s[i] == '-') {
        negative = s[i] == '-';
        i++;
    }
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            point = 1;
            continue;
        }
        if (m != 0 || s[i] != '0') {
            digits++;
        }
        m = m * 10 + (uint64_t)(s[i] - '0');
        fraction += point;
        if (digits > 15) {
            goto slow;
        }
    }
    if (i < n) {
        int exp_negative = 0;
        i++;
        if (s[i] == '+' || s[i] == '-') {
            exp_negative = s[i] == '-';
            i++;
        }
        if (n - i > 3) {
            goto slow;
        }
        for (; i < n; i++) {
            exponent = exponent * 10 + (s[i] - '0');
        }
        exponent = exp_negative ? -exponent : exponent;
    }
    exponent -= fraction;
    if (exponent < -22 || exponent > 22) {
        goto slow;
    }
    double v = exponent >= 0 ? (double)m * POW10[exponent] : (double)m / POW10[-exponent];
    *out = negative ? -v : v;
    return 1;
slow:;
    char *end = NULL;
    v = PyOS_string_to_double(s, &end, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (end != s + n || !isfinite(v)) {
        return 0;
    }
    *out = v;
    return 1;
}

/* f"{v:.6f}" of a DECIMAL cell's value v. A cell without exponent and with at most 6 fraction digits is that
 * text padded with zeros: the double is within |v| * 2^-53 of the cell's decimal, far less than half of
 * 1e-6 for |v| < 1e9, so rounding it to 6 decimals gives the decimal back. Any other through
 * PyOS_double_to_string, which format() uses. Returns the length written, -1 on error. */
TL_HIDDEN Py_ssize_t
tl_put_fixed6(char *out, const char *s, Py_ssize_t n, double v)
{
    Py_ssize_t i = 0, o = 0, fraction = -1;
    for (Py_ssize_t j = 0; j < n; j++) {
        if (s[j] == 'e' || s[j] == 'E') {
            fraction = 99;
            break;
        }
        if (s[j] == '.') {
            fraction = n - j - 1;
        }
    }
    if (fraction <= 6 && fabs(v) < 1e9) {
        if (s[i] == '+' || s[i] == '-') {
            if (s[i] == '-') {
                out[o++] = '-';
            }
            i++;
        }
        while (i < n - 1 && s[i] == '0' && s[i + 1] != '.') {
            i++; /* leading zeros of the integer part */
        }
        if (s[i] == '.') {
            out[o++] = '0';
        }
        for (; i < n; i++) {
            out[o++] = s[i];
        }
        if (fraction < 0) {
            out[o++] = '.';
            fraction = 0;
        }
        for (; fraction < 6; fraction++) {
            out[o++] = '0';
        }
        return o;
    }
    char *text = PyOS_double_to_string(v, 'f', 6, 0, NULL);
    if (text == NULL) {
        return -1;
    }
    size_t len = strlen(text);
    if (len > 400) {
        PyMem_Free(text);
        PyErr_SetString(PyExc_ValueError, "coordinate too long for the row id");
        return -1;
    }
    memcpy(out, text, len);
    PyMem_Free(text);
    return (Py_ssize_t)len;
}

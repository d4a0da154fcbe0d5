/* Decimal text and doubles as RFC 8785 (JCS) and Python read and write them: shared by the compiled
 * scanners (_firms_rows.c). See _jcs_number.c. */
#ifndef TRUCELINE_JCS_NUMBER_H
#define TRUCELINE_JCS_NUMBER_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if defined(__GNUC__)
#define TL_HIDDEN __attribute__((visibility("hidden"))) /* not exported: no clash with any other library's names */
#else
#define TL_HIDDEN
#endif

/* A growable output buffer (PyMem). */
typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

/* Appends n bytes (inline: it runs for every piece of every document). */
static inline int
tl_buf_put(Buf *b, const char *s, Py_ssize_t n)
{
    if (b->n + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n) {
            cap *= 2;
        }
        char *p = PyMem_Realloc(b->p, (size_t)cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, (size_t)n);
    b->n += n;
    return 0;
}

/* Whether [s, s+n) matches truceline.domain.strict.DECIMAL. */
TL_HIDDEN int tl_is_decimal(const char *s, Py_ssize_t n);
/* A finite double as RFC 8785 writes it. */
TL_HIDDEN int tl_put_double(Buf *b, double v);
/* A DECIMAL cell's RFC 8785 number from its own digits: 1 written, 0 needs the double, -1 error. */
TL_HIDDEN int tl_put_cell_number(Buf *b, const char *s, Py_ssize_t len);
/* A DECIMAL cell as float() reads it: 1 finite (in *out), 0 not finite. */
TL_HIDDEN int tl_read_double(const char *s, Py_ssize_t n, double *out);
/* f"{v:.6f}" of a DECIMAL cell's value v into out (at least 400 bytes): its length, -1 on error. */
TL_HIDDEN Py_ssize_t tl_put_fixed6(char *out, const char *s, Py_ssize_t n, double v);

/* "line N", where a scanner's validated row came from (as the Python decoders word it); NULL on error. */
static inline PyObject *
tl_line_where(Py_ssize_t number)
{
    char text[32] = "line ";
    int n = 5;
    char reversed[24];
    int r = 0;
    size_t u = (size_t)number;
    do {
        reversed[r++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    while (r > 0) {
        text[n++] = reversed[--r];
    }
    PyObject *where = PyUnicode_New(n, 127); /* ASCII: no UTF-8 decoding */
    if (where != NULL) {
        memcpy(PyUnicode_DATA(where), text, (size_t)n);
    }
    return where;
}
/* validated_type("line N", observation_type(*args)): the object a scanner hands the store for one row it
 * vouches for (args: the 15 fields of ValidatedObservation, borrowed); NULL with the error set. */
static inline PyObject *
tl_validated_row(PyObject *validated_type, PyObject *observation_type, PyObject *const *args, Py_ssize_t number)
{
    PyObject *observation = PyObject_Vectorcall(observation_type, args, 15, NULL);
    if (observation == NULL) {
        return NULL;
    }
    PyObject *where = tl_line_where(number);
    PyObject *out = NULL;
    if (where != NULL) {
        PyObject *pair[2] = {where, observation};
        out = PyObject_Vectorcall(validated_type, pair, 2, NULL);
        Py_DECREF(where);
    }
    Py_DECREF(observation);
    return out;
}
#endif

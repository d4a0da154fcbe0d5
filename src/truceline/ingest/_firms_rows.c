/* FIRMS CSV rows split, checked, serialised (RFC 8785) and identified (SHA-256) in one compiled pass.
 *
 * Why C: in Python a validated FIRMS row costs at least 5.4 us (split 0.9, row id 1.4, orjson of its
 * canonical document 3.0: docs/performance.md) against csv.reader's 0.7-1.3, so the format could not reach
 * half of csv.reader's speed however its checks were written. Here the loop over rows runs in C, and Python
 * only wraps what it returns.
 *
 * The rules are those of truceline/ingest/firms_columns.py (the Python twin, used when this module is not
 * built) and only ever stricter: a line this module cannot vouch for (any byte outside printable ASCII, a
 * quote, a wrong cell count, a cell that is not a plain decimal, a bad date, time or footprint, a time out of
 * bounds) is handed back as (k, number, start, end) for the Python row decoder, which words the refusal.
 * Files (one translation unit, built from this one): this one the module (the spec Python gives, the loop
 * over lines, the objects it returns); _firms_row.c one line's checks, row id and canonical document;
 * _jcs_number.c decimal cells and doubles as float(), format() and RFC 8785 read and write them.
 * tests/test_firms_compiled.py checks bytes, ids and values against the Python serialiser and the model.
 */
#include "_firms_rows.h"

/* One translation unit: the other two files are included rather than compiled apart, so the compiler can
 * inline the per-cell helpers across them (compiled apart, a row took 8% longer). */
#include "_jcs_number.c"
#include "_firms_row.c"

#include <datetime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The spec tuple Python builds once per file (truceline/ingest/firms_compiled.py: _spec). */
static int
read_spec(PyObject *t, Spec *spec)
{
    PyObject *attrs, *pieces;
    Py_ssize_t width, limit;
    if (!PyTuple_Check(t)) {
        PyErr_SetString(PyExc_TypeError, "spec must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(t, "nniiiiiiiiO!LLdddOO!OOO!O!:spec", &width, &limit, &spec->lat, &spec->lon, &spec->date,
                          &spec->time, &spec->scan, &spec->track, &spec->sat, &spec->inst, &PyTuple_Type, &attrs,
                          &spec->earliest_us, &spec->latest_us, &spec->unc_timed, &spec->unc_noon, &spec->default_pixel, &spec->footprint,
                          &PyDict_Type, &spec->cache, &spec->validated, &spec->observation, &PyTuple_Type, &spec->consts,
                          &PyTuple_Type, &pieces)) {
        return -1;
    }
    spec->width = width;
    spec->limit = limit;
    int columns[] = {spec->lat, spec->lon, spec->date, spec->time, spec->scan, spec->track, spec->sat, spec->inst};
    if (width < 1 || width > MAX_WIDTH || spec->lat < 0 || spec->lon < 0 || spec->date < 0) {
        PyErr_Format(PyExc_ValueError, "spec: width %zd (1-%d) or a required column out of range", width, MAX_WIDTH);
        return -1;
    }
    for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
        if (columns[i] < -1 || columns[i] >= width) {
            PyErr_Format(PyExc_ValueError, "spec: column %d is outside the %zd columns", columns[i], width);
            return -1;
        }
    }
    if (PyTuple_GET_SIZE(attrs) > MAX_ATTRS || PyTuple_GET_SIZE(pieces) != 8 || PyTuple_GET_SIZE(spec->consts) != 8) {
        PyErr_SetString(PyExc_ValueError, "spec: at most 32 attributes, 8 document pieces, 8 constant fields");
        return -1;
    }
    spec->n_attrs = (int)PyTuple_GET_SIZE(attrs);
    for (int a = 0; a < spec->n_attrs; a++) {
        PyObject *key;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(attrs, a), "O!ii:attribute", &PyBytes_Type, &key, &spec->attr_col[a],
                              &spec->attr_kind[a])) {
            return -1;
        }
        if (spec->attr_col[a] < -1 || spec->attr_col[a] >= width || spec->attr_kind[a] < 0 || spec->attr_kind[a] > 3 ||
            (spec->attr_col[a] < 0) != (spec->attr_kind[a] == ATTR_EXTRA)) {
            PyErr_Format(PyExc_ValueError, "spec: attribute %d has column %d and kind %d", a, spec->attr_col[a], spec->attr_kind[a]);
            return -1;
        }
        spec->attr_key[a] = PyBytes_AS_STRING(key);
        spec->attr_key_len[a] = PyBytes_GET_SIZE(key);
    }
    for (int i = 0; i < 8; i++) {
        PyObject *piece = PyTuple_GET_ITEM(pieces, i);
        if (!PyBytes_Check(piece)) {
            PyErr_SetString(PyExc_TypeError, "spec: document pieces must be bytes");
            return -1;
        }
        spec->piece[i] = PyBytes_AS_STRING(piece);
        spec->piece_len[i] = PyBytes_GET_SIZE(piece);
    }
    if (limit > 4096) {
        PyErr_Format(PyExc_ValueError, "spec: plain lines are at most 4096 bytes, not %zd", limit);
        return -1;
    }
    double unc[2] = {spec->unc_timed, spec->unc_noon};
    for (int i = 0; i < 2; i++) {
        Buf b = {NULL, 0, 0};
        if (!isfinite(unc[i]) || tl_put_double(&b, unc[i]) < 0 || b.n >= 40) {
            PyMem_Free(b.p);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "spec: time uncertainties must be finite");
            }
            return -1;
        }
        memcpy(spec->unc_text[i], b.p, (size_t)b.n);
        spec->unc_len[i] = b.n;
        PyMem_Free(b.p);
    }
    memset(spec->recent, 0, sizeof(spec->recent));
    if (!PyCallable_Check(spec->footprint)) {
        PyErr_SetString(PyExc_TypeError, "spec: footprint must be callable");
        return -1;
    }
    return 0;
}

/* One validated row as validated_type(where, observation_type(canonical, id, time, time_sd_s, kind, loc_type,
 * lat, lon, sigma_m, source_id, source_type, org, reliability, credibility, releasable_to)). */
static PyObject *
build(Spec *spec, Py_ssize_t number, Buf *doc, Row *row)
{
    PyObject *args[15] = {NULL};
    PyObject *c = spec->consts, *out = NULL;
    args[0] = PyBytes_FromStringAndSize(doc->p, doc->n);
    args[1] = PyUnicode_FromStringAndSize(row->id, 30);
    args[2] = PyDateTimeAPI->DateTime_FromDateAndTime(row->stamp.year, row->stamp.month, row->stamp.day, row->stamp.hour,
                                                      row->stamp.minute, 0, 0, PyDateTime_TimeZone_UTC,
                                                      PyDateTimeAPI->DateTimeType);
    args[3] = PyFloat_FromDouble(row->stamp.noon ? spec->unc_noon : spec->unc_timed);
    args[6] = PyFloat_FromDouble(row->lat);
    args[7] = PyFloat_FromDouble(row->lon);
    args[8] = PyFloat_FromDouble(row->sigma);
    if (args[0] == NULL || args[1] == NULL || args[2] == NULL || args[3] == NULL || args[6] == NULL || args[7] == NULL ||
        args[8] == NULL) {
        goto done;
    }
    args[4] = PyTuple_GET_ITEM(c, 0);
    args[5] = PyTuple_GET_ITEM(c, 1);
    for (int i = 0; i < 6; i++) {
        args[9 + i] = PyTuple_GET_ITEM(c, 2 + i);
    }
    out = tl_validated_row(spec->validated, spec->observation, args, number);
done:
    for (int i = 0; i < 9; i++) {
        if (i != 4 && i != 5) {
            Py_XDECREF(args[i]);
        }
    }
    return out;
}

static int
append_steal(PyObject *list, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    int r = PyList_Append(list, item);
    Py_DECREF(item);
    return r;
}

static PyObject *
scan(PyObject *module, PyObject *args)
{
    PyObject *text, *spec_tuple, *extras;
    Py_ssize_t offset, number, k, max_rows;
    int mode;
    if (!PyArg_ParseTuple(args, "UnnnnOiO:scan", &text, &offset, &number, &k, &max_rows, &spec_tuple, &mode, &extras)) {
        return NULL;
    }
    Spec spec;
    if (read_spec(spec_tuple, &spec) < 0) {
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) {
        PyErr_SetString(PyExc_ValueError, "scan needs an ASCII text (others go the Python way)");
        return NULL;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    if (offset < 0 || offset > size || max_rows < 1 || (mode != 0 && mode != 1) || (extras != Py_None && !PyList_Check(extras))) {
        PyErr_SetString(PyExc_ValueError, "scan: offset outside the text, max_rows < 1, mode not 0 or 1, or extras not a list");
        return NULL;
    }
    const char *p = (const char *)PyUnicode_DATA(text);
    PyObject *items = PyList_New(0), *result = NULL;
    Buf doc = {NULL, 0, 0}, ks = {NULL, 0, 0}, lats = {NULL, 0, 0}, lons = {NULL, 0, 0}, days = {NULL, 0, 0};
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t rows = 0;
    while (offset < size && rows < max_rows) {
        const char *newline = memchr(p + offset, '\n', (size_t)(size - offset));
        Py_ssize_t end = newline ? newline - p : size;
        Py_ssize_t start = offset;
        offset = newline ? end + 1 : size;
        Py_ssize_t line_number = number++;
        int blank = 1, plain = 1;
        for (Py_ssize_t i = start; i < end; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!tl_is_blank_byte(c)) {
                blank = 0;
            }
            if (c < 0x20 || c > 0x7e || c == '"') {
                plain = (c == '\r' && i == end - 1) ? plain : 0;
            }
        }
        if (blank) {
            continue;
        }
        Py_ssize_t body = end - start - (p[end - 1] == '\r');
        if (body > spec.limit) {
            plain = 0;
        }
        Row row;
        PyObject *extra = NULL;
        if (plain && extras != Py_None) {
            if (k >= PyList_GET_SIZE(extras)) {
                PyErr_Format(PyExc_ValueError, "extras has %zd items, row %zd has none", PyList_GET_SIZE(extras), k);
                goto fail;
            }
            extra = PyList_GET_ITEM(extras, k);
        }
        int outcome = plain ? tl_check_row(&spec, p + start, body, mode, extra, &doc, &row) : 0;
        if (outcome < 0) {
            goto fail;
        }
        if (outcome == 0) {
            if (append_steal(items, Py_BuildValue("nnnn", k, line_number, start, end)) < 0) {
                goto fail;
            }
        }
        else if (mode == 1) {
            if (append_steal(items, build(&spec, line_number, &doc, &row)) < 0) {
                goto fail;
            }
        }
        else {
            int64_t kk = k, day = row.stamp.days;
            if (tl_buf_put(&ks, (const char *)&kk, 8) < 0 || tl_buf_put(&lats, (const char *)&row.lat, 8) < 0 ||
                tl_buf_put(&lons, (const char *)&row.lon, 8) < 0 || tl_buf_put(&days, (const char *)&day, 8) < 0) {
                goto fail;
            }
        }
        k++;
        rows++;
    }
    if (mode == 1) {
        result = Py_BuildValue("Onnn", items, offset, number, k);
    }
    else {
        result = Py_BuildValue("Oy#y#y#y#nnn", items, ks.p ? ks.p : "", ks.n, lats.p ? lats.p : "", lats.n,
                               lons.p ? lons.p : "", lons.n, days.p ? days.p : "", days.n, offset, number, k);
    }
fail:
    Py_DECREF(items);
    PyMem_Free(doc.p);
    PyMem_Free(ks.p);
    PyMem_Free(lats.p);
    PyMem_Free(lons.p);
    PyMem_Free(days.p);
    return result;
}

static PyObject *
number_text(PyObject *module, PyObject *args)
{
    double v;
    if (!PyArg_ParseTuple(args, "d:number_text", &v)) {
        return NULL;
    }
    if (!isfinite(v)) {
        PyErr_SetString(PyExc_ValueError, "number_text: not a finite number");
        return NULL;
    }
    Buf b = {NULL, 0, 0};
    PyObject *out = tl_put_double(&b, v) < 0 ? NULL : PyBytes_FromStringAndSize(b.p, b.n);
    PyMem_Free(b.p);
    return out;
}

static PyObject *
cell_number_text(PyObject *module, PyObject *args)
{
    const char *s;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "s#:cell_number_text", &s, &n)) {
        return NULL;
    }
    if (!tl_is_decimal(s, n)) {
        Py_RETURN_NONE;
    }
    Buf b = {NULL, 0, 0};
    int written = tl_put_cell_number(&b, s, n);
    PyObject *out = written < 0 ? NULL : written == 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize(b.p, b.n);
    PyMem_Free(b.p);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(text, offset, number, k, max_rows, spec, mode, extras) -> (items, ...)\n\nUp to max_rows non-blank lines "
     "of an ASCII FIRMS text from offset (line number, row index k). mode 1: items are Validated objects or "
     "(k, number, start, end) for the row way; returns (items, offset, number, k). mode 0: positions only; returns "
     "(row-way items, k int64, lat float64, lon float64, day int64 buffers, offset, number, k)."},
    {"number_text", number_text, METH_VARARGS,
     "number_text(x) -> bytes\n\nA finite double as RFC 8785 writes it (from its shortest round-trip digits)."},
    {"cell_number_text", cell_number_text, METH_VARARGS,
     "cell_number_text(cell) -> bytes | None\n\nA decimal cell's RFC 8785 number from its own digits, None when "
     "it is not a decimal or needs the double."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "truceline.ingest._firms_rows",
    "FIRMS CSV rows split, checked, serialised (RFC 8785) and identified (SHA-256) in one compiled pass.", -1, methods,
};

PyMODINIT_FUNC
PyInit__firms_rows(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}

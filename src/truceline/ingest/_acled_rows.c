/* ACLED rows checked, serialised (RFC 8785) and made into validated observations in C.
 *
 * Python's csv.reader splits the rows (it is the floor the bench compares with); this module pulls rows from
 * it and, for each row whose cells it can vouch for under the row decoder's rules (ingest/acled.py: _record)
 * and the model's (place name and admin <= 200 code points, attributes <= 56 KiB as compact JSON, a time in
 * [2000, now + skew]), builds Validated(where, ValidatedObservation(...)) with the canonical document written
 * here. Every other row comes back as (1, start_line, cells) for the Python row path, which alone words
 * refusals; a csv.Error as (0, start_line, exception). Rules are only ever stricter than Python's: a cell
 * with a surrogate, a date not written YYYY-MM-DD, a number that is not a plain decimal go the row way.
 * ingest/acled_compiled.py is the Python side; tests/test_acled_compiled.py compares both paths.
 */
#include "_jcs_number.h"

#include "_jcs_number.c"

#include <datetime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define N_COLS 18
#define DAY_SLOTS 256
#define MAX_TEXT 2000
#define MAX_NAME 200
#define MAX_ATTRIBUTES_BYTES (56 * 1024)
#define ATTRIBUTES_AT 14 /* strlen("{\"attributes\":"): piece 0 begins so (checked in acled_compiled.py) */

/* Column order of spec->col: the 17 required columns, then country (-1 when absent). */
enum {
    C_ID, C_DATE, C_TYPE, C_SUB, C_ACTOR1, C_ACTOR2, C_ADMIN1, C_ADMIN2, C_ADMIN3, C_LOCATION, C_LAT, C_LON, C_GEO,
    C_TIME, C_SOURCE, C_NOTES, C_FATAL, C_COUNTRY
};

typedef struct {
    Py_ssize_t width;
    int col[N_COLS];
    long long first_day, last_day; /* days since 1970-01-01 of event dates whose noon UTC the model accepts */
    PyObject *kinds, *kind_of, *validated, *observation, *line_num, *csv_error; /* borrowed */
    PyObject *time_sd[3], *sigma[3], *consts;                                   /* borrowed */
    const char *piece[6];
    Py_ssize_t piece_len[6];
    const char *unc[3];
    Py_ssize_t unc_len[3];
    PyObject *days[DAY_SLOTS]; /* owned: datetimes of noon by day, for one scan call */
    PyObject *line_num_name;   /* owned */
    PyObject *last_type, *last_sub, *last_kind; /* owned: the previous row's pair and its kind */
} Spec;

#include "_acled_text.c"

#include "_acled_row.c"

/* A new reference to the datetime of noon UTC on ymd, remembered per day for this call (a file holds few days). */
static PyObject *
noon_of(Spec *spec, const int *ymd)
{
    unsigned slot = (unsigned)(ymd[0] * 372 + ymd[1] * 31 + ymd[2]) % DAY_SLOTS;
    PyObject *cached = spec->days[slot];
    if (cached != NULL && PyDateTime_GET_YEAR(cached) == ymd[0] && PyDateTime_GET_MONTH(cached) == ymd[1] &&
        PyDateTime_GET_DAY(cached) == ymd[2]) {
        return Py_NewRef(cached);
    }
    PyObject *when = PyDateTimeAPI->DateTime_FromDateAndTime(ymd[0], ymd[1], ymd[2], 12, 0, 0, 0, PyDateTime_TimeZone_UTC,
                                                             PyDateTimeAPI->DateTimeType);
    if (when != NULL) {
        Py_XSETREF(spec->days[slot], Py_NewRef(when));
    }
    return when;
}

static PyObject *
build(Spec *spec, Py_ssize_t number, Buf *doc, Py_ssize_t id_at, Py_ssize_t id_len, int tp, int gp, double lat, double lon,
      const int *ymd, PyObject *kind)
{
    PyObject *args[15] = {NULL};
    PyObject *c = spec->consts, *out = NULL;
    args[0] = PyBytes_FromStringAndSize(doc->p, doc->n);
    args[1] = PyUnicode_New(6 + id_len, 127); /* "acled-" + the event id, checked ASCII */
    if (args[1] != NULL) {
        memcpy(PyUnicode_DATA(args[1]), "acled-", 6);
        memcpy((char *)PyUnicode_DATA(args[1]) + 6, doc->p + id_at, (size_t)id_len);
    }
    args[2] = noon_of(spec, ymd);
    args[6] = PyFloat_FromDouble(lat);
    args[7] = PyFloat_FromDouble(lon);
    if (args[0] == NULL || args[1] == NULL || args[2] == NULL || args[6] == NULL || args[7] == NULL) {
        goto done;
    }
    args[3] = spec->time_sd[tp - 1];
    args[4] = kind;
    args[5] = PyTuple_GET_ITEM(c, 1);
    args[8] = spec->sigma[gp - 1];
    for (int i = 0; i < 6; i++) {
        args[9 + i] = PyTuple_GET_ITEM(c, 2 + i);
    }
    out = tl_validated_row(spec->validated, spec->observation, args, number);
done:
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    Py_XDECREF(args[6]);
    Py_XDECREF(args[7]);
    return out;
}

static int
load_spec(PyObject *t, Spec *spec)
{
    /* (width, cols[18], first_day, last_day, kinds, kind_of, validated, observation, csv_error, time_sd[3],
     *  sigma[3], consts, pieces[4], unc[3]) */
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 14) {
        PyErr_SetString(PyExc_TypeError, "bad spec");
        return -1;
    }
    spec->width = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0));
    PyObject *cols = PyTuple_GET_ITEM(t, 1);
    if (spec->width < 0 || !PyTuple_Check(cols) || PyTuple_GET_SIZE(cols) != N_COLS) {
        PyErr_SetString(PyExc_ValueError, "bad spec columns");
        return -1;
    }
    for (int i = 0; i < N_COLS; i++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(cols, i));
        if (v < -1 || v >= spec->width || (v < 0 && i != C_COUNTRY)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "bad spec column index");
            }
            return -1;
        }
        spec->col[i] = (int)v;
    }
    spec->first_day = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 2));
    spec->last_day = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 3));
    spec->kinds = PyTuple_GET_ITEM(t, 4);
    spec->kind_of = PyTuple_GET_ITEM(t, 5);
    spec->validated = PyTuple_GET_ITEM(t, 6);
    spec->observation = PyTuple_GET_ITEM(t, 7);
    spec->csv_error = PyTuple_GET_ITEM(t, 8);
    PyObject *sd = PyTuple_GET_ITEM(t, 9), *sigma = PyTuple_GET_ITEM(t, 10), *pieces = PyTuple_GET_ITEM(t, 12);
    PyObject *unc = PyTuple_GET_ITEM(t, 13);
    spec->consts = PyTuple_GET_ITEM(t, 11);
    if (PyErr_Occurred() || !PyDict_Check(spec->kinds) || !PyTuple_Check(sd) || PyTuple_GET_SIZE(sd) != 3 ||
        !PyTuple_Check(sigma) || PyTuple_GET_SIZE(sigma) != 3 || !PyTuple_Check(spec->consts) ||
        PyTuple_GET_SIZE(spec->consts) != 8 || !PyTuple_Check(pieces) || PyTuple_GET_SIZE(pieces) != 4 || !PyTuple_Check(unc) ||
        PyTuple_GET_SIZE(unc) != 3 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(spec->consts, 0))) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "bad spec values");
        }
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        spec->time_sd[i] = PyTuple_GET_ITEM(sd, i);
        spec->sigma[i] = PyTuple_GET_ITEM(sigma, i);
        char *p;
        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(unc, i), &p, &spec->unc_len[i]) < 0) {
            return -1;
        }
        spec->unc[i] = p;
    }
    for (int i = 0; i < 4; i++) {
        char *p;
        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(pieces, i), &p, &spec->piece_len[i]) < 0) {
            return -1;
        }
        spec->piece[i] = p;
    }
    return 0;
}

static void
release(Spec *spec, Buf *doc)
{
    PyMem_Free(doc->p);
    for (int i = 0; i < DAY_SLOTS; i++) {
        Py_CLEAR(spec->days[i]);
    }
    Py_CLEAR(spec->line_num_name);
    Py_CLEAR(spec->last_type);
    Py_CLEAR(spec->last_sub);
    Py_CLEAR(spec->last_kind);
}

/* scan(reader, count, spec) -> (items, finished): up to count rows of the csv reader, each a Validated, or
 * (1, start_line, cells) for the row path, or (0, start_line, csv.Error) for a row the reader refused;
 * returns (items, finished, how many are tuples). */
static PyObject *
scan(PyObject *self, PyObject *args)
{
    PyObject *reader, *spec_tuple;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "OnO", &reader, &count, &spec_tuple)) {
        return NULL;
    }
    Spec spec;
    memset(&spec, 0, sizeof spec);
    if (load_spec(spec_tuple, &spec) < 0) {
        return NULL;
    }
    spec.line_num_name = PyUnicode_InternFromString("line_num");
    PyObject *items = spec.line_num_name == NULL ? NULL : PyList_New(0);
    if (items == NULL) {
        Py_XDECREF(spec.line_num_name);
        return NULL;
    }
    Py_ssize_t left = 0;
    Buf doc = {NULL, 0, 0};
    int finished = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *num = PyObject_GetAttr(reader, spec.line_num_name);
        if (num == NULL) {
            goto fail;
        }
        Py_ssize_t start = PyLong_AsSsize_t(num) + 1;
        Py_DECREF(num);
        if (start == 0 && PyErr_Occurred()) {
            goto fail;
        }
        PyObject *cells = PyIter_Next(reader);
        PyObject *item = NULL;
        if (cells == NULL) {
            if (!PyErr_Occurred()) {
                finished = 1;
                break;
            }
            if (!PyErr_ExceptionMatches(spec.csv_error)) {
                goto fail;
            }
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            item = Py_BuildValue("(inO)", 0, start, value ? value : Py_None);
            left++;
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        } else {
            int vouched = 0;
            Py_ssize_t id_at = 0, id_len = 0;
            int tp = 0, gp = 0, ymd[3] = {0, 0, 0};
            double lat = 0, lon = 0;
            long long day = 0;
            PyObject *kind = NULL;
            if (PyList_CheckExact(cells) && PyList_GET_SIZE(cells) == spec.width) {
                vouched = check_row(&spec, ((PyListObject *)cells)->ob_item, &doc, &id_at, &id_len, &tp, &gp, &lat, &lon, &day, ymd,
                                    &kind);
            }
            if (vouched < 0) {
                Py_DECREF(cells);
                goto fail;
            }
            item = vouched ? build(&spec, start, &doc, id_at, id_len, tp, gp, lat, lon, ymd, kind)
                           : Py_BuildValue("(inO)", 1, start, cells);
            left += !vouched;
            Py_DECREF(cells);
        }
        if (item == NULL || PyList_Append(items, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    release(&spec, &doc);
    return Py_BuildValue("(Nin)", items, finished, left);
fail:
    release(&spec, &doc);
    Py_DECREF(items);
    return NULL;
}

/* string(s) -> bytes: s as an RFC 8785 string, or None when it holds a surrogate (for the tests). */
static PyObject *
string(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "a str");
        return NULL;
    }
    Buf b = {NULL, 0, 0};
    int r = put_string(&b, arg, 0, PyUnicode_GET_LENGTH(arg));
    PyObject *out = r < 0 ? NULL : r == 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize(b.p, b.n);
    PyMem_Free(b.p);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "Validated ACLED rows from a csv reader; see ingest/acled_compiled.py."},
    {"string", string, METH_O, "A str as an RFC 8785 JSON string (None if it holds a surrogate)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_acled_rows", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__acled_rows(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}

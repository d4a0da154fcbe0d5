/* The multi-resolution space-time grid of truceline/fuse/index.py (PySpaceTimeIndex, the reference) in C.
 *
 * Fusion's decisions depend on the order of query results (ties), so this is a twin, not a re-design: the same
 * levels (base * pow(factor, level)), the same floor of float quotients, the same 63-bit cell keys (and their
 * aliasing), the same coarse map of 16x16x16 cells, each walked in insertion order with deletions exactly as
 * CPython's dicts iterate, and buckets that collapse to a bare item and re-expand as the Python ones do. Items
 * are compared as a dict compares keys (identity, else equal hash and ==). What changes is the cost: no Python
 * int, tuple or dict per cell, hence nothing for the cyclic collector to scan but the items themselves.
 * tests/test_fuse_grid.py compares both on random operation sequences, results and errors alike.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MASK_XY (((int64_t)1 << 19) - 1) /* index.py's _MASK_XY, _MASK_T, _SHIFT_I and _SHIFT_J: 63-bit keys */
#define MASK_T (((int64_t)1 << 25) - 1)
#define SHIFT_I 44
#define SHIFT_J 25
#define SHIFT 4
#define DIRECT 16
#define SPAN 1152921504606846976.0 /* 2**60, index.py's _SPAN */
#define EMPTY ((Py_ssize_t)-1)
#define DUMMY ((Py_ssize_t)-2)

static const char BEYOND[] = "coordinates beyond 2**60 cells or buckets of the finest level from the origin";

static inline int64_t cell_key(int64_t i, int64_t j, int64_t k) {
    return ((i & MASK_XY) << SHIFT_I) | ((j & MASK_XY) << SHIFT_J) | (k & MASK_T);
}

#include "_grid_map.c"
#include "_grid_cells.c"

/* Arguments by position or keyword into out[n] (the doubles from index first); 0 or -1. */
static int gather(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, const char *const *names, Py_ssize_t n,
                  const char *fn, PyObject **out) {
    if (nargs > n)
        return PyErr_Format(PyExc_TypeError, "%s() takes %zd positional arguments but %zd were given", fn, n, nargs), -1;
    for (Py_ssize_t x = 0; x < n; x++) out[x] = x < nargs ? args[x] : NULL;
    Py_ssize_t nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t w = 0; w < nk; w++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, w);
        Py_ssize_t x = 0;
        while (x < n && PyUnicode_CompareWithASCIIString(name, names[x]) != 0) x++;
        if (x == n) return PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fn, name), -1;
        if (out[x] != NULL) return PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fn, names[x]), -1;
        out[x] = args[nargs + w];
    }
    for (Py_ssize_t x = 0; x < n; x++)
        if (out[x] == NULL) return PyErr_Format(PyExc_TypeError, "%s() missing required argument: '%s'", fn, names[x]), -1;
    return 0;
}

static inline int as_double(PyObject *o, double *d) {
    if (PyFloat_CheckExact(o)) { *d = PyFloat_AS_DOUBLE(o); return 0; }
    *d = PyFloat_AsDouble(o);
    return *d == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static const char *const PUT_ARGS[] = {"item", "x", "y", "radius", "t", "half_width"};
static const char *const QUERY_ARGS[] = {"x", "y", "radius", "t", "half_width"};

static PyObject *grid_put(Grid *g, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *o[6];
    double a[5];
    int64_t box[7];
    if (gather(args, nargs, kwnames, PUT_ARGS, 6, "put", o) < 0 || as_double(o[3], &a[2]) < 0 || as_double(o[5], &a[4]) < 0)
        return NULL;
    Py_ssize_t level = 0;
    while (a[2] > g->sizes[level] || a[4] > g->buckets[level])
        if (++level == g->levels) {
            PyObject *spec = PyUnicode_FromString(".0f"), *r = NULL, *w = NULL; /* f"{radius:.0f}" */
            if (spec != NULL && (r = PyObject_Format(o[3], spec)) != NULL && (w = PyObject_Format(o[5], spec)) != NULL)
                PyErr_Format(PyExc_ValueError, "extent %U m / %U s exceeds the top grid level", r, w);
            Py_XDECREF(spec);
            Py_XDECREF(r);
            Py_XDECREF(w);
            return NULL;
        }
    if (as_double(o[1], &a[0]) < 0 || as_double(o[2], &a[1]) < 0 || as_double(o[4], &a[3]) < 0 || beyond(g, a) < 0 ||
        box_at(g, level, a, box) < 0)
        return NULL;
    PyObject *item = o[0];
    Py_hash_t h = PyObject_Hash(item);
    if (h == -1 || enter(g) < 0) return NULL;
    int rc = 0;
    Py_ssize_t slot = where_find(g, item, h);
    if (slot == -2) rc = -1;
    else if (slot >= 0) {
        if (memcmp(g->where[slot].box, box, sizeof(box)) != 0) {
            int64_t old[7];
            memcpy(old, g->where[slot].box, sizeof(old));
            rc = reserve(g, old) < 0 ? -1 : discard(g, item, h, old);
            if (rc == 0) {
                memcpy(g->where[slot].box, box, sizeof(box)); /* the entry keeps its first key object, as a dict */
                rc = register_cells(g, item, h, box);
            }
        }
    } else {
        rc = where_insert(g, item, h, box);
        if (rc == 0) rc = register_cells(g, item, h, box);
    }
    leave(g);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *grid_remove(Grid *g, PyObject *item) {
    Py_hash_t h = PyObject_Hash(item);
    if (h == -1 || enter(g) < 0) return NULL;
    int rc = 0;
    Py_ssize_t slot = where_find(g, item, h);
    if (slot == -2) rc = -1;
    else if (slot >= 0) {
        WEnt *e = &g->where[slot];
        int64_t old[7];
        memcpy(old, e->box, sizeof(old));
        if (reserve(g, old) < 0) { leave(g); return NULL; }
        g->dead[g->ndead++] = e->o;
        e->o = W_DUMMY;
        g->wlive--;
        rc = discard(g, item, h, old);
    }
    leave(g);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static int found_add(Grid *g, PyObject *o, Py_hash_t h) { /* found[o] = None; 0 or -1 */
    if ((size_t)(g->fcount + 1) * 2 > g->fmask + 1) {
        size_t n = (g->fmask + 1) * 2;
        FEnt *f = PyMem_Calloc(n, sizeof(FEnt));
        PyObject **out = PyMem_Realloc(g->out, n / 2 * sizeof(PyObject *));
        if (out != NULL) g->out = out;
        if (f == NULL || out == NULL) { PyMem_Free(f); return PyErr_NoMemory(), -1; }
        for (size_t s = 0; s <= g->fmask; s++) {
            if (g->found[s].gen != g->gen) continue;
            size_t i = mix((uint64_t)g->found[s].h) & (n - 1);
            while (f[i].gen == g->gen) i = (i + 1) & (n - 1);
            f[i] = g->found[s];
        }
        PyMem_Free(g->found);
        g->found = f;
        g->fmask = n - 1;
    }
    for (size_t i = mix((uint64_t)h) & g->fmask;; i = (i + 1) & g->fmask) {
        FEnt *f = &g->found[i];
        if (f->gen != g->gen) { f->o = o, f->h = h, f->gen = g->gen; g->out[g->fcount++] = o; return 0; }
        int eq = same(f->o, f->h, o, h);
        if (eq != 0) return eq < 0 ? -1 : 0;
    }
}

static int found_bucket(Grid *g, const Ent *e) { /* found.update(bucket) or found[bucket] = None */
    if (e->u.b.cap == 0) return found_add(g, e->ptr, e->u.b.h);
    const Obj *v = e->ptr;
    for (Py_ssize_t x = 0; x < e->u.b.n; x++)
        if (found_add(g, v[x].o, v[x].h) < 0) return -1;
    return 0;
}

static int walk_group(Grid *g, const IMap *table, const IMap *group, const int64_t *b) {
    for (Py_ssize_t s = 0; s < group->used; s++) {
        const Ent *ge = &group->ents[s];
        if (ge->ptr == NULL) continue;
        int64_t i = ge->u.cell.i, j = ge->u.cell.j, k = ge->u.cell.k;
        if (b[1] <= i && i <= b[2] && b[3] <= j && j <= b[4] && b[5] <= k && k <= b[6]) {
            const Ent *e = imap_get(table, ge->key);
            if (e == NULL) return key_error(PyLong_FromLongLong(ge->key));
            if (found_bucket(g, e) < 0) return -1;
        }
    }
    return 0;
}

static int query_level(Grid *g, Py_ssize_t level, const double *a) {
    const IMap *table = &g->cells[level], *coarse = &g->coarse[level];
    int64_t b[7];
    if (box_at(g, level, a, b) < 0) return -1;
    if (at_most(b[2] - b[1] + 1, b[4] - b[3] + 1, b[6] - b[5] + 1, DIRECT)) {
        for (int64_t i = b[1]; i <= b[2]; i++)
            for (int64_t j = b[3]; j <= b[4]; j++)
                for (int64_t k = b[5]; k <= b[6]; k++) {
                    const Ent *e = imap_get(table, cell_key(i, j, k));
                    if (e != NULL && found_bucket(g, e) < 0) return -1;
                }
        return 0;
    }
    int64_t ci0 = b[1] >> SHIFT, ci1 = b[2] >> SHIFT, cj0 = b[3] >> SHIFT, cj1 = b[4] >> SHIFT, ck0 = b[5] >> SHIFT,
            ck1 = b[6] >> SHIFT;
    if (at_most(ci1 - ci0 + 1, cj1 - cj0 + 1, ck1 - ck0 + 1, coarse->live)) {
        for (int64_t ci = ci0; ci <= ci1; ci++)
            for (int64_t cj = cj0; cj <= cj1; cj++)
                for (int64_t ck = ck0; ck <= ck1; ck++) {
                    const Ent *c = imap_get(coarse, cell_key(ci, cj, ck));
                    if (c != NULL && ((IMap *)c->ptr)->live > 0 && walk_group(g, table, c->ptr, b) < 0) return -1;
                }
        return 0;
    }
    for (Py_ssize_t s = 0; s < coarse->used; s++) /* list(coarse.values()): insertion order */
        if (coarse->ents[s].ptr != NULL && walk_group(g, table, coarse->ents[s].ptr, b) < 0) return -1;
    return 0;
}

static PyObject *grid_query(Grid *g, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *o[5];
    double a[5];
    if (gather(args, nargs, kwnames, QUERY_ARGS, 5, "query", o) < 0) return NULL;
    for (int x = 0; x < 5; x++)
        if (as_double(o[x], &a[x]) < 0) return NULL;
    if (beyond(g, a) < 0 || enter(g) < 0) return NULL;
    g->gen++;
    g->fcount = 0;
    int rc = 0;
    for (Py_ssize_t level = 0; level < g->levels && rc == 0; level++)
        if (g->cells[level].live > 0) rc = query_level(g, level, a);
    PyObject *list = rc < 0 ? NULL : PyList_New(g->fcount);
    for (Py_ssize_t x = 0; list != NULL && x < g->fcount; x++) PyList_SET_ITEM(list, x, Py_NewRef(g->out[x]));
    leave(g);
    return list;
}

static Py_ssize_t grid_len(Grid *g) { return g->wlive; }

static int grid_contains(Grid *g, PyObject *item) {
    Py_hash_t h = PyObject_Hash(item);
    if (h == -1 || enter(g) < 0) return -1;
    Py_ssize_t slot = where_find(g, item, h);
    leave(g);
    return slot == -2 ? -1 : slot >= 0;
}

static int grid_traverse(Grid *g, visitproc visit, void *arg) {
    for (size_t s = 0; g->where != NULL && s <= g->wmask; s++)
        if (g->where[s].o != NULL && g->where[s].o != W_DUMMY) Py_VISIT(g->where[s].o);
    for (Py_ssize_t level = 0; g->cells != NULL && level < g->levels; level++) {
        const IMap *t = &g->cells[level];
        for (Py_ssize_t s = 0; s < t->used; s++) {
            const Ent *e = &t->ents[s];
            if (e->ptr != NULL && e->u.b.cap == 0) Py_VISIT((PyObject *)e->ptr);
            for (Py_ssize_t x = 0; e->ptr != NULL && e->u.b.cap > 0 && x < e->u.b.n; x++) Py_VISIT(((Obj *)e->ptr)[x].o);
        }
    }
    for (Py_ssize_t x = 0; x < g->ndead; x++) Py_VISIT(g->dead[x]);
    return 0;
}

static int grid_clear(Grid *g) { /* detach everything first: a finaliser run by a release may use the index */
    Py_ssize_t levels = g->cells != NULL ? g->levels : 0, nwhere = g->where ? (Py_ssize_t)g->wmask + 1 : 0;
    IMap *cells = g->cells, *coarse = g->coarse, *fresh = PyMem_Calloc((size_t)levels * 2 + 1, sizeof(IMap));
    WEnt *where = g->where;
    if (fresh == NULL && levels > 0)
        return 0; /* out of memory: keep everything (released at deallocation) */
    g->cells = levels > 0 ? fresh : NULL;
    g->coarse = levels > 0 ? fresh + levels : NULL;
    if (levels == 0) PyMem_Free(fresh);
    g->where = NULL;
    g->wlive = g->wfill = 0;
    for (Py_ssize_t level = 0; level < levels; level++) {
        for (Py_ssize_t s = 0; s < coarse[level].used; s++)
            if (coarse[level].ents[s].ptr != NULL) {
                imap_free(coarse[level].ents[s].ptr);
                PyMem_Free(coarse[level].ents[s].ptr);
            }
        imap_free(&coarse[level]);
    }
    for (Py_ssize_t s = 0; s < nwhere; s++)
        if (where[s].o != NULL && where[s].o != W_DUMMY) Py_DECREF(where[s].o);
    PyMem_Free(where);
    for (Py_ssize_t level = 0; level < levels; level++) {
        IMap *t = &cells[level];
        for (Py_ssize_t s = 0; s < t->used; s++) {
            Ent *e = &t->ents[s];
            if (e->ptr != NULL && e->u.b.cap == 0) Py_DECREF((PyObject *)e->ptr);
            else if (e->ptr != NULL) {
                for (Py_ssize_t x = 0; x < e->u.b.n; x++) Py_DECREF(((Obj *)e->ptr)[x].o);
                PyMem_Free(e->ptr);
            }
        }
        imap_free(t);
    }
    PyMem_Free(cells); /* cells and coarse are one allocation */
    if (!g->busy) leave(g);
    return 0;
}

static void grid_dealloc(Grid *g) {
    PyObject_GC_UnTrack(g);
    g->busy = 0;
    grid_clear(g);
    PyMem_Free(g->cells);
    PyMem_Free(g->sizes);
    PyMem_Free(g->found);
    PyMem_Free(g->out);
    PyMem_Free(g->dead);
    Py_TYPE(g)->tp_free((PyObject *)g);
}

static int check_positive(PyObject *v, PyObject *bound, int op, int *bad) { /* *bad |= (v op bound) */
    int r = PyObject_RichCompareBool(v, bound, op);
    if (r < 0) return -1;
    *bad |= r;
    return 0;
}

static PyObject *grid_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *names[] = {"base_cell_m", "base_bucket_s", "factor", "levels", NULL};
    PyObject *cell = NULL, *bucket = NULL, *factor = NULL, *levels = NULL, *zero = PyLong_FromLong(0), *one = PyLong_FromLong(1);
    Grid *g = NULL;
    int bad = 0;
    double c, b, f;
    Py_ssize_t n;
    if (zero == NULL || one == NULL || !PyArg_ParseTupleAndKeywords(args, kwds, "|OOOO:SpaceTimeIndex", names, &cell, &bucket, &factor, &levels))
        goto done;
    PyObject *owned[4] = {cell ? NULL : PyFloat_FromDouble(2000.0), bucket ? NULL : PyFloat_FromDouble(120.0),
                          factor ? NULL : PyFloat_FromDouble(8.0), levels ? NULL : PyLong_FromLong(7)};
    cell = cell ? cell : owned[0], bucket = bucket ? bucket : owned[1], factor = factor ? factor : owned[2];
    levels = levels ? levels : owned[3];
    if (cell && bucket && factor && levels && check_positive(cell, zero, Py_LE, &bad) == 0 && (bad || check_positive(bucket, zero, Py_LE, &bad) == 0) &&
        (bad || check_positive(factor, one, Py_LE, &bad) == 0) && (bad || check_positive(levels, one, Py_LT, &bad) == 0)) {
        if (bad)
            PyErr_Format(PyExc_ValueError, "need positive base sizes, factor > 1, levels %s 1; got %S, %S, %S, %S", "\xe2\x89\xa5", cell, bucket, factor, levels);
        else if ((n = PyNumber_AsSsize_t(levels, PyExc_OverflowError)) != -1 && as_double(cell, &c) == 0 &&
                 as_double(bucket, &b) == 0 && as_double(factor, &f) == 0 && (g = (Grid *)type->tp_alloc(type, 0)) != NULL) {
            g->levels = n;
            g->sizes = PyMem_Calloc((size_t)n * 2, sizeof(double));
            g->cells = PyMem_Calloc((size_t)n * 2, sizeof(IMap));
            g->found = PyMem_Calloc(64, sizeof(FEnt));
            g->out = PyMem_Malloc(32 * sizeof(PyObject *));
            if (g->sizes == NULL || g->cells == NULL || g->found == NULL || g->out == NULL) {
                Py_CLEAR(g);
                PyErr_NoMemory();
            } else {
                g->buckets = g->sizes + n;
                g->coarse = g->cells + n;
                g->fmask = 63;
                for (Py_ssize_t i = 0; i < n && g != NULL; i++) { /* base * factor**i, as float ** int computes it */
                    double p = pow(f, (double)i);
                    if (isinf(p) && isfinite(f)) { /* float_pow's OverflowError(ERANGE) */
                        errno = ERANGE;
                        PyErr_SetFromErrno(PyExc_OverflowError);
                        Py_CLEAR(g);
                        break;
                    }
                    g->sizes[i] = c * p;
                    g->buckets[i] = b * p;
                }
                if (g != NULL) { g->reach_xy = SPAN * c; g->reach_t = SPAN * b; }
            }
        }
    }
    for (int x = 0; x < 4; x++) Py_XDECREF(owned[x]);
done:
    Py_XDECREF(zero);
    Py_XDECREF(one);
    return (PyObject *)g;
}

static PyMethodDef grid_methods[] = {
    {"put", (PyCFunction)(void (*)(void))grid_put, METH_FASTCALL | METH_KEYWORDS,
     "put(item, x, y, radius, t, half_width)\n--\n\nInsert ``item`` or move it to its new extent."},
    {"remove", (PyCFunction)grid_remove, METH_O, "remove(item)\n--\n\nRemove ``item``; removing an absent item is a no-op."},
    {"query", (PyCFunction)(void (*)(void))grid_query, METH_FASTCALL | METH_KEYWORDS,
     "query(x, y, radius, t, half_width)\n--\n\nItems whose extent may meet the cylinder around ``(x, y, t)`` (each once, in a stable order)."},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "SpaceTimeIndex[T], for annotations."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods grid_sequence = {.sq_length = (lenfunc)grid_len, .sq_contains = (objobjproc)grid_contains};

static PyTypeObject GridType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "truceline.fuse._grid.SpaceTimeIndex",
    .tp_doc = "SpaceTimeIndex(base_cell_m=2000.0, base_bucket_s=120.0, factor=8.0, levels=7)\n--\n\n"
              "The C twin of truceline.fuse.index.PySpaceTimeIndex: the same results in the same order.",
    .tp_basicsize = sizeof(Grid),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = grid_new,
    .tp_dealloc = (destructor)grid_dealloc,
    .tp_traverse = (traverseproc)grid_traverse,
    .tp_clear = (inquiry)grid_clear,
    .tp_methods = grid_methods,
    .tp_as_sequence = &grid_sequence,
};

static struct PyModuleDef grid_module = {
    PyModuleDef_HEAD_INIT, "_grid", "The space-time grid of truceline.fuse.index in C (SpaceTimeIndex): same results, same order.", -1, NULL,
};

PyMODINIT_FUNC PyInit__grid(void) {
    if (PyType_Ready(&GridType) < 0) return NULL;
    PyObject *m = PyModule_Create(&grid_module);
    if (m != NULL && PyModule_AddObjectRef(m, "SpaceTimeIndex", (PyObject *)&GridType) < 0) Py_CLEAR(m);
    return m;
}

/* The grid's state and its cell bookkeeping: which item is where, the buckets of each cell, a box's cells
 * registered and discarded in index.py's order, and the float-to-cell arithmetic with math.floor's errors.
 * Included by _grid.c (one translation unit; not compiled on its own). */

/* ------------------------------------------------ the index */

typedef struct {
    PyObject *o; /* NULL empty, W_DUMMY deleted */
    Py_hash_t h;
    int64_t box[7];
} WEnt;

typedef struct {
    PyObject *o;
    Py_hash_t h;
    uint64_t gen; /* the query that put it here: older entries count as empty */
} FEnt;

typedef struct {
    PyObject_HEAD
    Py_ssize_t levels;
    double *sizes, *buckets;
    double reach_xy, reach_t;
    IMap *cells, *coarse;
    WEnt *where;
    size_t wmask;
    Py_ssize_t wlive, wfill;
    FEnt *found;
    size_t fmask;
    Py_ssize_t fcount;
    uint64_t gen;
    PyObject **out; /* found's entries in order of first appearance (its capacity: half found's) */
    PyObject **dead; /* references released once the structures are consistent and the call is over */
    Py_ssize_t ndead, deadcap;
    int busy;
} Grid;

static char WGONE;
#define W_DUMMY ((PyObject *)&WGONE)

static int enter(Grid *g) {
    if (g->busy) {
        PyErr_SetString(PyExc_RuntimeError, "SpaceTimeIndex used from inside one of its own calls (an item's __eq__ or __hash__)");
        return -1;
    }
    g->busy = 1;
    return 0;
}

static int reserve(Grid *g, const int64_t *b) { /* room for the releases of discarding box b and one entry */
    Py_ssize_t n = g->ndead + 1;
    if (b != NULL && b[2] >= b[1] && b[4] >= b[3] && b[6] >= b[5]) /* a put's box: a few cells per axis */
        n += (Py_ssize_t)((b[2] - b[1] + 1) * (b[4] - b[3] + 1) * (b[6] - b[5] + 1));
    if (n > g->deadcap) {
        PyObject **dead = PyMem_Realloc(g->dead, (size_t)n * sizeof(PyObject *));
        if (dead == NULL) return PyErr_NoMemory(), -1;
        g->dead = dead;
        g->deadcap = n;
    }
    return 0;
}

static void leave(Grid *g) {
    g->busy = 0;
    while (g->ndead > 0) { /* re-read each time: a finaliser may call back in */
        PyObject *o = g->dead[--g->ndead];
        Py_DECREF(o);
    }
}

static inline int same(PyObject *stored, Py_hash_t sh, PyObject *o, Py_hash_t h) { /* as a dict: 1, 0 or -1 */
    if (stored == o) return 1;
    if (sh != h) return 0;
    Py_INCREF(stored);
    int eq = PyObject_RichCompareBool(stored, o, Py_EQ);
    Py_DECREF(stored);
    return eq;
}

static Py_ssize_t where_find(Grid *g, PyObject *item, Py_hash_t h) { /* slot, -1 absent, -2 error */
    if (g->where == NULL) return -1;
    for (size_t i = mix((uint64_t)h) & g->wmask;; i = (i + 1) & g->wmask) {
        WEnt *e = &g->where[i];
        if (e->o == NULL) return -1;
        if (e->o != W_DUMMY) {
            int eq = same(e->o, e->h, item, h);
            if (eq != 0) return eq < 0 ? -2 : (Py_ssize_t)i;
        }
    }
}

static int where_insert(Grid *g, PyObject *item, Py_hash_t h, const int64_t *box) { /* item absent */
    size_t size = g->where ? g->wmask + 1 : 0;
    if ((size_t)(g->wfill + 1) * 3 >= size * 2) {
        size_t n = 8;
        while (n < (size_t)(g->wlive + 1) * 3) n <<= 1;
        WEnt *w = PyMem_Calloc(n, sizeof(WEnt));
        if (w == NULL) return PyErr_NoMemory(), -1;
        for (size_t s = 0; s < size; s++) {
            WEnt *e = &g->where[s];
            if (e->o == NULL || e->o == W_DUMMY) continue;
            size_t i = mix((uint64_t)e->h) & (n - 1);
            while (w[i].o != NULL) i = (i + 1) & (n - 1);
            w[i] = *e;
        }
        PyMem_Free(g->where);
        g->where = w;
        g->wmask = n - 1;
        g->wfill = g->wlive;
    }
    size_t i = mix((uint64_t)h) & g->wmask;
    while (g->where[i].o != NULL && g->where[i].o != W_DUMMY) i = (i + 1) & g->wmask;
    if (g->where[i].o == NULL) g->wfill++;
    Py_INCREF(item);
    g->where[i].o = item;
    g->where[i].h = h;
    memcpy(g->where[i].box, box, sizeof(g->where[i].box));
    g->wlive++;
    return 0;
}

static int key_error(PyObject *key) { /* KeyError(key), as `del d[key]` raises it; steals key */
    if (key == NULL) return -1;
    PyObject *exc = PyObject_CallOneArg(PyExc_KeyError, key);
    Py_DECREF(key);
    if (exc != NULL) { PyErr_SetObject(PyExc_KeyError, exc); Py_DECREF(exc); }
    return -1;
}

static Py_ssize_t bucket_index(Ent *e, PyObject *item, Py_hash_t h) { /* position in a dict bucket, -1, -2 */
    Obj *v = e->ptr;
    for (Py_ssize_t x = 0; x < e->u.b.n; x++) {
        int eq = same(v[x].o, v[x].h, item, h);
        if (eq != 0) return eq < 0 ? -2 : x;
    }
    return -1;
}

static int bucket_push(Ent *e, PyObject *o, Py_hash_t h) { /* append to a dict bucket (o absent) */
    if (e->u.b.n == e->u.b.cap) {
        Obj *v = PyMem_Realloc(e->ptr, (size_t)e->u.b.cap * 2 * sizeof(Obj));
        if (v == NULL) return PyErr_NoMemory(), -1;
        e->ptr = v;
        e->u.b.cap *= 2;
    }
    Obj *v = e->ptr;
    Py_INCREF(o);
    v[e->u.b.n].o = o;
    v[e->u.b.n++].h = h;
    return 0;
}

/* The cells of box (level, i0, i1, j0, j1, k0, k1), in i/j/k order: put's loop body and _discard's, in C. */
static int register_cells(Grid *g, PyObject *item, Py_hash_t h, const int64_t *b) {
    IMap *table = &g->cells[b[0]], *coarse = &g->coarse[b[0]];
    for (int64_t i = b[1]; i <= b[2]; i++)
        for (int64_t j = b[3]; j <= b[4]; j++)
            for (int64_t k = b[5]; k <= b[6]; k++) {
                int64_t key = cell_key(i, j, k);
                Ent *e = imap_get(table, key);
                if (e == NULL) {
                    Ent *c = imap_get(coarse, cell_key(i >> SHIFT, j >> SHIFT, k >> SHIFT)), *ge;
                    IMap *group = c ? c->ptr : NULL;
                    if (c == NULL && (group = PyMem_Calloc(1, sizeof(IMap))) == NULL) return PyErr_NoMemory(), -1;
                    if ((e = imap_append(table, key)) == NULL) goto fail;
                    Py_INCREF(item);
                    e->ptr = item;
                    e->u.b.h = h;
                    e->u.b.n = 1;
                    e->u.b.cap = 0;
                    ge = c ? imap_get(group, key) : NULL; /* present only after an earlier KeyError */
                    if (ge == NULL && (ge = imap_append(group, key)) == NULL) goto fail;
                    ge->ptr = &LIVE;
                    ge->u.cell.i = i, ge->u.cell.j = j, ge->u.cell.k = k;
                    if (c == NULL) {
                        if ((c = imap_append(coarse, cell_key(i >> SHIFT, j >> SHIFT, k >> SHIFT))) == NULL) goto fail;
                        c->ptr = group;
                    }
                    continue;
                fail:
                    if (c == NULL) { imap_free(group); PyMem_Free(group); }
                    return -1;
                }
                if (e->u.b.cap > 0) { /* bucket[item] = None */
                    Py_ssize_t x = bucket_index(e, item, h);
                    if (x == -2 || (x == -1 && bucket_push(e, item, h) < 0)) return -1;
                    continue;
                }
                int eq = same(e->ptr, e->u.b.h, item, h); /* {bare: None, item: None} */
                Obj *v = eq < 0 ? NULL : PyMem_Malloc(2 * sizeof(Obj));
                if (v == NULL) return eq < 0 ? -1 : (PyErr_NoMemory(), -1);
                v[0].o = e->ptr;
                v[0].h = e->u.b.h;
                e->ptr = v;
                e->u.b.n = 1;
                e->u.b.cap = 2;
                if (!eq && bucket_push(e, item, h) < 0) return -1;
            }
    return 0;
}

static int discard(Grid *g, PyObject *item, Py_hash_t h, const int64_t *b) {
    IMap *table = &g->cells[b[0]], *coarse = &g->coarse[b[0]];
    for (int64_t i = b[1]; i <= b[2]; i++)
        for (int64_t j = b[3]; j <= b[4]; j++)
            for (int64_t k = b[5]; k <= b[6]; k++) {
                int64_t key = cell_key(i, j, k);
                Py_ssize_t slot = imap_slot(table, key);
                if (slot < 0) return key_error(PyLong_FromLongLong(key));
                Ent *e = &table->ents[table->slots[slot]];
                if (e->u.b.cap > 0) {
                    Py_ssize_t x = bucket_index(e, item, h);
                    if (x < 0) return x == -2 ? -1 : (Py_INCREF(item), key_error(item));
                    Obj *v = e->ptr;
                    g->dead[g->ndead++] = v[x].o;
                    memmove(v + x, v + x + 1, (size_t)(e->u.b.n - x - 1) * sizeof(Obj));
                    if (--e->u.b.n == 1) { /* table[key] = next(iter(bucket)) */
                        e->ptr = v[0].o;
                        e->u.b.h = v[0].h;
                        e->u.b.cap = 0;
                        PyMem_Free(v);
                    }
                    continue;
                }
                g->dead[g->ndead++] = e->ptr;
                imap_del_slot(table, slot);
                int64_t ckey = cell_key(i >> SHIFT, j >> SHIFT, k >> SHIFT);
                Py_ssize_t cs = imap_slot(coarse, ckey);
                if (cs < 0) return key_error(PyLong_FromLongLong(ckey));
                IMap *group = coarse->ents[coarse->slots[cs]].ptr;
                Py_ssize_t gs = imap_slot(group, key);
                if (gs < 0) return key_error(PyLong_FromLongLong(key));
                imap_del_slot(group, gs);
                if (group->live == 0) { imap_free(group); PyMem_Free(group); imap_del_slot(coarse, cs); }
            }
    return 0;
}

static int floor_cell(double q, int64_t *out) { /* math.floor's errors, then an int64 */
    if (isnan(q)) { PyErr_SetString(PyExc_ValueError, "cannot convert float NaN to integer"); return -1; }
    if (isinf(q)) { PyErr_SetString(PyExc_OverflowError, "cannot convert float infinity to integer"); return -1; }
    double f = floor(q);
    if (!(f > -4 * SPAN && f < 4 * SPAN)) { /* unreachable past the BEYOND check; kept for int64 safety */
        PyErr_SetString(PyExc_OverflowError, BEYOND);
        return -1;
    }
    *out = (int64_t)f;
    return 0;
}

static int box_at(Grid *g, Py_ssize_t level, const double *a, int64_t *b) { /* a: x, y, radius, t, half_width */
    double size = g->sizes[level], bucket = g->buckets[level];
    b[0] = level;
    if (floor_cell((a[0] - a[2]) / size, &b[1]) || floor_cell((a[0] + a[2]) / size, &b[2]) ||
        floor_cell((a[1] - a[2]) / size, &b[3]) || floor_cell((a[1] + a[2]) / size, &b[4]) ||
        floor_cell((a[3] - a[4]) / bucket, &b[5]) || floor_cell((a[3] + a[4]) / bucket, &b[6]))
        return -1;
    return 0;
}

static int beyond(Grid *g, const double *a) {
    if (fabs(a[0]) + fabs(a[2]) > g->reach_xy || fabs(a[1]) + fabs(a[2]) > g->reach_xy || fabs(a[3]) + fabs(a[4]) > g->reach_t) {
        PyErr_SetString(PyExc_OverflowError, BEYOND);
        return -1;
    }
    return 0;
}

static int at_most(int64_t a, int64_t b, int64_t c, int64_t limit) { /* Python's a * b * c <= limit */
    __int128 ab = (__int128)a * b, abc;
    if (__builtin_mul_overflow(ab, (__int128)c, &abc)) return (ab < 0) != (c < 0);
    return abc <= limit;
}

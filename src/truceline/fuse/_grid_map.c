/* An insertion-ordered map of int64 keys with open addressing (a compact dict, as CPython's): the cell tables
 * and coarse maps of _grid.c, which includes this file (one translation unit; not compiled on its own). */

static inline size_t mix(uint64_t h) {
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29));
}

/* ------------------------------------------------ an insertion-ordered map of int64 keys (a compact dict) */

typedef struct {
    PyObject *o;
    Py_hash_t h;
} Obj;

typedef struct {
    int64_t key;
    void *ptr; /* NULL: a deleted entry (skipped by walks, as a dict's) */
    union {
        struct { int64_t i, j, k; } cell;                /* coarse group: the cell the key was created for */
        struct { Py_hash_t h; Py_ssize_t n, cap; } b;    /* table: bare item (cap 0: ptr the object, h its hash)
                                                            or a dict bucket (ptr an Obj array of n, any n >= 0) */
    } u;
} Ent;

typedef struct {
    Ent *ents;
    Py_ssize_t *slots; /* open addressing: index into ents, EMPTY or DUMMY */
    Py_ssize_t used, live, cap;
    size_t mask;
} IMap;

static char LIVE; /* ptr of a live coarse-group entry (its value is the cell) */

static Py_ssize_t imap_slot(const IMap *m, int64_t key) {
    if (m->live == 0) return -1;
    size_t i = mix((uint64_t)key) & m->mask;
    for (;;) {
        Py_ssize_t s = m->slots[i];
        if (s == EMPTY) return -1;
        if (s >= 0 && m->ents[s].key == key) return (Py_ssize_t)i;
        i = (i + 1) & m->mask;
    }
}

static inline Ent *imap_get(const IMap *m, int64_t key) {
    Py_ssize_t i = imap_slot(m, key);
    return i < 0 ? NULL : &m->ents[m->slots[i]];
}

static void imap_del_slot(IMap *m, Py_ssize_t slot) {
    m->ents[m->slots[slot]].ptr = NULL;
    m->slots[slot] = DUMMY;
    m->live--;
}

static int imap_resize(IMap *m, Py_ssize_t need) { /* live entries compacted, in order, with room for need */
    Py_ssize_t cap = 4;
    while (cap < need) cap <<= 1;
    size_t nslots = (size_t)cap * 2;
    Ent *ents = PyMem_Malloc((size_t)cap * sizeof(Ent));
    Py_ssize_t *slots = PyMem_Malloc(nslots * sizeof(Py_ssize_t));
    if (ents == NULL || slots == NULL) {
        PyMem_Free(ents);
        PyMem_Free(slots);
        PyErr_NoMemory();
        return -1;
    }
    memset(slots, 0xff, nslots * sizeof(Py_ssize_t)); /* EMPTY */
    Py_ssize_t n = 0;
    for (Py_ssize_t s = 0; s < m->used; s++) {
        if (m->ents[s].ptr == NULL) continue;
        ents[n] = m->ents[s];
        size_t i = mix((uint64_t)ents[n].key) & (nslots - 1);
        while (slots[i] != EMPTY) i = (i + 1) & (nslots - 1);
        slots[i] = n++;
    }
    PyMem_Free(m->ents);
    PyMem_Free(m->slots);
    m->ents = ents;
    m->slots = slots;
    m->used = m->live = n;
    m->cap = cap;
    m->mask = nslots - 1;
    return 0;
}

static Ent *imap_append(IMap *m, int64_t key) { /* a new entry for an absent key, last in the order */
    if (m->used == m->cap && imap_resize(m, (m->live + 1) * 2) < 0) return NULL;
    size_t i = mix((uint64_t)key) & m->mask;
    while (m->slots[i] >= 0) i = (i + 1) & m->mask;
    m->slots[i] = m->used;
    Ent *e = &m->ents[m->used++];
    e->key = key;
    m->live++;
    return e;
}

static void imap_free(IMap *m) {
    PyMem_Free(m->ents);
    PyMem_Free(m->slots);
    memset(m, 0, sizeof(IMap));
}

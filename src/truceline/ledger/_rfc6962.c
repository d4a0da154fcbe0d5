/* RFC 6962 hashes of whole runs in one call: the leaf hashes of a contiguous buffer of leaves, and the
 * parents of a contiguous run of hashes (one tree level); and the end offsets of a stored leaf row, which
 * cost more in Python (a len() and an addition per leaf) than hashing the leaf does here.
 *
 * Why C: on hashlib every hash is one Python call, whose overhead (~0.5-1 us) is several times the cost of
 * hashing the <= 5 blocks of a leaf with SHA-NI. Here the loop runs in C over OpenSSL's libcrypto (the same
 * library Python's hashlib links, so the same SHA-NI code), with the GIL released for large runs.
 *
 * The pure-hashlib twin of each function is truceline/ledger/batch_hash.py, chosen when this module is not
 * built; tests/test_ledger_batch_hash.py checks that both give the same bytes and the same errors.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: the low-level calls, no EVP dispatch per hash */
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>

#define HASH 32
#define RELEASE_GIL_FROM 64 /* hashes; below this, releasing and re-taking the GIL costs more than it frees */

static const unsigned char LEAF_PREFIX = 0x00;
static const unsigned char NODE_PREFIX = 0x01;

static uint32_t
load_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static PyObject *
leaf_hashes(PyObject *module, PyObject *args)
{
    Py_buffer data, ends;
    PyObject *out = NULL;
    if (!PyArg_ParseTuple(args, "y*y*:leaf_hashes", &data, &ends)) {
        return NULL;
    }
    if (ends.len % 4 != 0) {
        PyErr_Format(PyExc_ValueError, "ends has %zd bytes, not a whole number of 4-byte offsets", ends.len);
        goto done;
    }
    Py_ssize_t n = ends.len / 4;
    const unsigned char *e = (const unsigned char *)ends.buf;
    uint32_t previous = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t end = load_be32(e + 4 * i);
        if (end < previous) {
            PyErr_Format(PyExc_ValueError, "end offset %zd (%lu) is before the one preceding it (%lu)", i,
                         (unsigned long)end, (unsigned long)previous);
            goto done;
        }
        previous = end;
    }
    if ((Py_ssize_t)previous != data.len) {
        PyErr_Format(PyExc_ValueError, "the last end offset is %lu but data has %zd bytes", (unsigned long)previous,
                     data.len);
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n * HASH);
    if (out == NULL) {
        goto done;
    }
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *d = (const unsigned char *)data.buf;
    PyThreadState *state = n >= RELEASE_GIL_FROM ? PyEval_SaveThread() : NULL;
    uint32_t begin = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t end = load_be32(e + 4 * i);
        SHA256_CTX ctx;
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, &LEAF_PREFIX, 1);
        SHA256_Update(&ctx, d + begin, end - begin);
        SHA256_Final(o + HASH * i, &ctx);
        begin = end;
    }
    if (state != NULL) {
        PyEval_RestoreThread(state);
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends);
    return out;
}

static PyObject *
node_hashes(PyObject *module, PyObject *args)
{
    Py_buffer hashes;
    PyObject *out = NULL;
    if (!PyArg_ParseTuple(args, "y*:node_hashes", &hashes)) {
        return NULL;
    }
    if (hashes.len % HASH != 0) {
        PyErr_Format(PyExc_ValueError, "hashes has %zd bytes, not a whole number of 32-byte hashes", hashes.len);
        goto done;
    }
    Py_ssize_t pairs = hashes.len / (2 * HASH);
    out = PyBytes_FromStringAndSize(NULL, pairs * HASH);
    if (out == NULL) {
        goto done;
    }
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *h = (const unsigned char *)hashes.buf;
    PyThreadState *state = pairs >= RELEASE_GIL_FROM ? PyEval_SaveThread() : NULL;
    for (Py_ssize_t i = 0; i < pairs; i++) {
        SHA256_CTX ctx;
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, &NODE_PREFIX, 1);
        SHA256_Update(&ctx, h + 2 * HASH * i, 2 * HASH); /* left and right are adjacent in the run */
        SHA256_Final(o + HASH * i, &ctx);
    }
    if (state != NULL) {
        PyEval_RestoreThread(state);
    }
done:
    PyBuffer_Release(&hashes);
    return out;
}

static PyObject *
row_ends(PyObject *module, PyObject *args)
{
    PyObject *leaves;
    Py_ssize_t first, max_leaves, max_bytes;
    if (!PyArg_ParseTuple(args, "O!nnn:row_ends", &PyList_Type, &leaves, &first, &max_leaves, &max_bytes)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(leaves);
    if (first < 0 || first >= n || max_leaves < 1 || max_bytes < 0) {
        PyErr_Format(PyExc_ValueError, "row_ends needs 0 <= first < %zd leaves, max_leaves >= 1, max_bytes >= 0; "
                     "got first %zd, max_leaves %zd, max_bytes %zd", n, first, max_leaves, max_bytes);
        return NULL;
    }
    Py_ssize_t last = n - first < max_leaves ? n : first + max_leaves;
    unsigned char buffer[4 * 1024];
    unsigned char *e = last - first <= 1024 ? buffer : PyMem_Malloc(4 * (size_t)(last - first));
    if (e == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t count = 0;
    unsigned long long total = 0;
    for (Py_ssize_t i = first; i < last; i++) {
        PyObject *leaf = PyList_GET_ITEM(leaves, i);
        if (!PyBytes_Check(leaf)) {
            PyErr_Format(PyExc_TypeError, "leaf %zd is %.100s, not bytes", i, Py_TYPE(leaf)->tp_name);
            goto fail;
        }
        unsigned long long next = total + (unsigned long long)PyBytes_GET_SIZE(leaf);
        if (count > 0 && next > (unsigned long long)max_bytes) {
            break; /* the row is full; a first leaf larger than max_bytes still makes a row of its own */
        }
        if (next > 0xFFFFFFFFull) {
            PyErr_Format(PyExc_ValueError, "leaf %zd ends at byte %llu, past a row's 4 GiB of offsets", i, next);
            goto fail;
        }
        total = next;
        e[4 * count] = (unsigned char)(total >> 24);
        e[4 * count + 1] = (unsigned char)(total >> 16);
        e[4 * count + 2] = (unsigned char)(total >> 8);
        e[4 * count + 3] = (unsigned char)total;
        count++;
    }
    PyObject *out = Py_BuildValue("ny#", count, (const char *)e, 4 * count);
    if (e != buffer) {
        PyMem_Free(e);
    }
    return out;
fail:
    if (e != buffer) {
        PyMem_Free(e);
    }
    return NULL;
}

static PyMethodDef methods[] = {
    {"row_ends", row_ends, METH_VARARGS,
     "row_ends(leaves, first, max_leaves, max_bytes) -> (count, ends)\n\nHow many leaves from leaves[first] "
     "make one stored row (at most max_leaves, at most max_bytes in total unless the first alone is larger) and "
     "their big-endian uint32 end offsets within the row."},
    {"leaf_hashes", leaf_hashes, METH_VARARGS,
     "leaf_hashes(data, ends) -> bytes\n\nSHA-256(0x00 || leaf) of each leaf, concatenated. The leaves are data "
     "cut at ends: big-endian uint32 end offsets, non-decreasing, the last one len(data)."},
    {"node_hashes", node_hashes, METH_VARARGS,
     "node_hashes(hashes) -> bytes\n\nSHA-256(0x01 || left || right) of each consecutive pair of 32-byte hashes, "
     "concatenated; an odd last hash is left out for the caller."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "truceline.ledger._rfc6962",
    "RFC 6962 leaf and node hashes of whole runs in one call (OpenSSL libcrypto).", -1, methods,
};

PyMODINIT_FUNC
PyInit__rfc6962(void)
{
    return PyModule_Create(&module);
}

/* One ACLED row's checks and canonical document (the rules of acled._record and the model, never looser).
 * Included by _acled_rows.c after _acled_text.c (one translation unit). */

#define TRY(expr)          \
    do {                   \
        int r_ = (expr);   \
        if (r_ <= 0) {     \
            return r_;     \
        }                  \
    } while (0)
#define PUT(buf, s, n) TRY(tl_buf_put((buf), (s), (n)) < 0 ? -1 : 1)

static PyObject *lookup_kind(Spec *spec, PyObject *type, PyObject *sub);

/* The observation kind of a row's event type pair (the Python callback decides and remembers): a borrowed str,
 * Py_None for a pair not in the codebook, NULL on error. */
static PyObject *
kind_of(Spec *spec, PyObject *type, PyObject *sub)
{
    /* the previous row's pair, compared by content before any hashing (rows of a file repeat few pairs) */
    if (spec->last_kind != NULL && PyUnicode_GET_LENGTH(type) == PyUnicode_GET_LENGTH(spec->last_type) &&
        PyUnicode_GET_LENGTH(sub) == PyUnicode_GET_LENGTH(spec->last_sub) && PyUnicode_Compare(type, spec->last_type) == 0 &&
        PyUnicode_Compare(sub, spec->last_sub) == 0) {
        return spec->last_kind;
    }
    PyObject *kind = lookup_kind(spec, type, sub);
    if (kind != NULL) {
        Py_XSETREF(spec->last_type, Py_NewRef(type));
        Py_XSETREF(spec->last_sub, Py_NewRef(sub));
        Py_XSETREF(spec->last_kind, Py_NewRef(kind));
    }
    return kind;
}

static PyObject *
lookup_kind(Spec *spec, PyObject *type, PyObject *sub)
{
    PyObject *subs = PyDict_GetItemWithError(spec->kinds, type);
    if (subs != NULL) {
        PyObject *kind = PyDict_GetItemWithError(subs, sub);
        if (kind != NULL || PyErr_Occurred()) {
            return kind;
        }
    } else if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *kind = PyObject_CallFunctionObjArgs(spec->kind_of, type, sub, NULL);
    if (kind == NULL) {
        return NULL;
    }
    Py_DECREF(kind); /* the callback stored it in spec->kinds, which keeps it alive */
    return kind;
}

/* One row's checks and document: 1 vouched for (doc written, *out_* set), 0 the row way, -1 a Python error. */
static int
check_row(Spec *spec, PyObject **cells, Buf *doc, Py_ssize_t *id_at, Py_ssize_t *id_len, int *tp, int *gp, double *lat,
          double *lon, long long *day, int *ymd, PyObject **kind)
{
    PyObject *c[N_COLS];
    for (int i = 0; i < N_COLS; i++) {
        c[i] = spec->col[i] < 0 ? NULL : cells[spec->col[i]];
        if (c[i] != NULL && !PyUnicode_CheckExact(c[i])) {
            return 0;
        }
    }
    /* the id: "acled-" + the stripped event id must match the model's id pattern (<= 128 characters) */
    Span eid = strip(c[C_ID]);
    if (eid.a == eid.b || eid.b - eid.a > 128 - 6 || !PyUnicode_IS_ASCII(c[C_ID])) {
        return 0;
    }
    const char *ep = (const char *)PyUnicode_DATA(c[C_ID]);
    for (Py_ssize_t i = eid.a; i < eid.b; i++) {
        unsigned char x = (unsigned char)ep[i];
        if (!((x >= 'A' && x <= 'Z') || (x >= 'a' && x <= 'z') || (x >= '0' && x <= '9') || strchr("._:@/+-", x) != NULL) ||
            x == 0) {
            return 0;
        }
    }
    /* the date: YYYY-MM-DD only, a real day whose noon UTC lies in the model's bounds */
    char date[16];
    Py_ssize_t dn = ascii_cell(c[C_DATE], strip(c[C_DATE]), date, 10);
    if (dn != 10 || date[4] != '-' || date[7] != '-') {
        return 0;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !(date[i] >= '0' && date[i] <= '9')) {
            return 0;
        }
    }
    int y = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 + (date[3] - '0');
    int m = (date[5] - '0') * 10 + (date[6] - '0'), d = (date[8] - '0') * 10 + (date[9] - '0');
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days[m - 1] + (m == 2 && leap)) {
        return 0;
    }
    *day = days_from_civil(y, (unsigned)m, (unsigned)d);
    if (*day < spec->first_day || *day > spec->last_day) {
        return 0;
    }
    ymd[0] = y, ymd[1] = m, ymd[2] = d;
    *tp = code123(c[C_TIME]);
    *gp = code123(c[C_GEO]);
    if (*tp == 0 || *gp == 0) {
        return 0;
    }
    *kind = kind_of(spec, c[C_TYPE], c[C_SUB]);
    if (*kind == NULL) {
        return -1;
    }
    if (!PyUnicode_CheckExact(*kind)) {
        return 0;
    }
    /* fatalities: ASCII digits (empty is 0), at most 15 (below 2^53), written without leading zeros */
    char fatal[16];
    Span fs = strip(c[C_FATAL]);
    Py_ssize_t fn = fs.a == fs.b ? 0 : ascii_cell(c[C_FATAL], fs, fatal, 15);
    if (fn < 0) {
        return 0;
    }
    Py_ssize_t f0 = 0;
    for (Py_ssize_t i = 0; i < fn; i++) {
        if (fatal[i] < '0' || fatal[i] > '9') {
            return 0;
        }
    }
    while (f0 < fn - 1 && fatal[f0] == '0') {
        f0++;
    }
    if (fn == 0) {
        fatal[0] = '0', fn = 1;
    }
    Span name = strip(c[C_LOCATION]);
    if (name.a == name.b || name.b - name.a > MAX_NAME) {
        return 0;
    }
    Span admin[3] = {strip(c[C_ADMIN3]), strip(c[C_ADMIN2]), strip(c[C_ADMIN1])};
    Py_ssize_t admin_len = 0;
    int admins = 0;
    for (int i = 0; i < 3; i++) {
        if (admin[i].b > admin[i].a) {
            admin_len += (admins ? 2 : 0) + admin[i].b - admin[i].a;
            admins++;
        }
    }
    if (admin_len > MAX_NAME) {
        return 0;
    }

    /* the document, members in RFC 8785 order */
    doc->n = 0;
    PUT(doc, spec->piece[0], spec->piece_len[0]); /* {"attributes":{"acled_event_id": */
    TRY(put_string(doc, c[C_ID], eid.a, eid.b));
    int first = 0;
    TRY(text_member(doc, &first, "\"acled_source\":", c[C_SOURCE]));
    TRY(text_member(doc, &first, "\"admin1\":", c[C_ADMIN1]));
    TRY(text_member(doc, &first, "\"admin2\":", c[C_ADMIN2]));
    TRY(text_member(doc, &first, "\"admin3\":", c[C_ADMIN3]));
    Span a1 = strip(c[C_ACTOR1]), a2 = strip(c[C_ACTOR2]);
    if (a1.b > a1.a || a2.b > a2.a) {
        PUT(doc, ",\"claims\":{", 11);
        if (a1.b > a1.a) {
            PUT(doc, "\"actor1\":", 9);
            TRY(put_string(doc, c[C_ACTOR1], a1.a, a1.b));
        }
        if (a2.b > a2.a) {
            PUT(doc, a1.b > a1.a ? ",\"actor2\":" : "\"actor2\":", a1.b > a1.a ? 10 : 9);
            TRY(put_string(doc, c[C_ACTOR2], a2.a, a2.b));
        }
        PUT(doc, "}", 1);
    }
    if (c[C_COUNTRY] != NULL) {
        TRY(text_member(doc, &first, "\"country\":", c[C_COUNTRY]));
    }
    Span et = strip(c[C_TYPE]), st = strip(c[C_SUB]);
    PUT(doc, ",\"event_type\":", 14);
    TRY(put_string(doc, c[C_TYPE], et.a, et.b));
    PUT(doc, ",\"fatalities_reported\":", 23);
    PUT(doc, fatal + f0, fn - f0);
    char code[2] = {(char)('0' + *gp), 0};
    PUT(doc, ",\"geo_precision\":", 17);
    PUT(doc, code, 1);
    TRY(text_member(doc, &first, "\"notes\":", c[C_NOTES]));
    PUT(doc, ",\"sub_event_type\":", 18);
    TRY(put_string(doc, c[C_SUB], st.a, st.b));
    code[0] = (char)('0' + *tp);
    PUT(doc, ",\"time_precision\":", 18);
    PUT(doc, code, 1);
    /* attributes as compact JSON (orjson's size, any member order): from their '{' after '{"attributes":' to '}' */
    Py_ssize_t attributes_size = doc->n + 1 - ATTRIBUTES_AT;
    if (attributes_size > MAX_ATTRIBUTES_BYTES) {
        return 0;
    }
    PUT(doc, spec->piece[1], spec->piece_len[1]); /* },"credibility":3,"id":"acled- */
    *id_at = doc->n;
    PUT(doc, ep + eid.a, eid.b - eid.a);
    *id_len = eid.b - eid.a;
    PUT(doc, "\",\"kind\":", 9);
    TRY(put_string(doc, *kind, 0, PyUnicode_GET_LENGTH(*kind)));
    PUT(doc, ",\"location\":{", 13);
    if (admins) {
        PUT(doc, "\"admin\":\"", 9);
        int k = 0;
        for (int i = 0; i < 3; i++) {
            if (admin[i].b > admin[i].a) {
                if (k++) {
                    PUT(doc, ", ", 2);
                }
                PyObject *cell = c[i == 0 ? C_ADMIN3 : i == 1 ? C_ADMIN2 : C_ADMIN1];
                Py_ssize_t before = doc->n;
                TRY(put_string(doc, cell, admin[i].a, admin[i].b));
                /* drop the quotes put_string wrote around this part */
                memmove(doc->p + before, doc->p + before + 1, (size_t)(doc->n - before - 2));
                doc->n -= 2;
            }
        }
        PUT(doc, "\",", 2);
    }
    PUT(doc, "\"lat\":", 6);
    TRY(number(doc, c[C_LAT], 90.0, lat));
    PUT(doc, ",\"lon\":", 7);
    TRY(number(doc, c[C_LON], 180.0, lon));
    PUT(doc, ",\"name\":", 8);
    TRY(put_string(doc, c[C_LOCATION], name.a, name.b));
    char precision[2] = {(char)('0' + (*gp == 3 ? 4 : *gp)), 0};
    PUT(doc, ",\"precision\":", 13);
    PUT(doc, precision, 1);
    PUT(doc, spec->piece[2], spec->piece_len[2]); /* ,"type":"place"},"releasable_to":…,"time":" */
    char when[24];
    memcpy(when, date, 10);
    memcpy(when + 10, "T12:00:00Z\"", 11);
    PUT(doc, when, 21);
    PUT(doc, spec->piece[3], spec->piece_len[3]); /* ,"time_uncertainty_s": */
    PUT(doc, spec->unc[*tp - 1], spec->unc_len[*tp - 1]);
    PUT(doc, "}", 1);
    return 1;
}

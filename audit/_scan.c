/*
 * audit._scan: the strict shapes of donation and allocation lines, and their fields, a
 * block of a journal export at a time (ADR 0015).
 *
 * The same answer as the regular expressions it was written from (the oracle in
 * tests/audit/expressions.py), without a Python call per line:
 *
 *   shape(line)  == shapes([line])[0]                       (the strict expressions)
 *   fields(line) == DONATION_BOOKED / ALLOCATION_FIELDS groups, with amount and seq as
 *                   ints and a null project_id as None
 *
 * tests/audit/test_scan.py holds it to that on generated and mutated lines, and
 * tests/audit/test_scanner.py to the ledger's own validation (audit.decoder). Every field
 * pattern is followed by a character its own pattern excludes, so reading each field
 * greedily, without backtracking, accepts exactly what the expressions accept.
 *
 * Only the shapes are decided here; what an expression cannot check (seq at most
 * MAX_SEQ, an ISO 4217 currency, the 29th to 31st of a month) is still checked by
 * audit.scanner.fast_values and audit.journal, on the columns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define ENTRY_VERSION 1
#define AMOUNT_DIGITS 13 /* MAX_AMOUNT = 10**12: "1000000000000" */
#define SEQ_DIGITS 16
#define ID_MAX 40

enum { OTHER = 0, DONATION = 1, ALLOCATION = 2 };

typedef struct {
    const unsigned char *p;   /* next character */
    const unsigned char *end; /* end of the line */
} Cursor;

typedef struct {
    const unsigned char *start;
    Py_ssize_t length;
} Span;

/* Portable C99 and CPython's API, nothing else: a compiler extension only where the
 * compiler says it has it, with a plain C fallback (tests/audit/test_scan.py builds the
 * module with -DSCAN_PLAIN_C under -std=c99 -pedantic-errors and runs it). */
#if !defined(SCAN_PLAIN_C) && (defined(__GNUC__) || defined(__clang__))
#define FORCE_INLINE static inline __attribute__((always_inline))
#elif !defined(SCAN_PLAIN_C) && defined(_MSC_VER)
#define FORCE_INLINE static __forceinline
#else
#define FORCE_INLINE static inline
#endif

/* Inlined, so that each literal's length is a constant and memcmp is a few compares. */
FORCE_INLINE int
literal(Cursor *c, const char *text, Py_ssize_t length)
{
    if (c->end - c->p < length || memcmp(c->p, text, (size_t)length) != 0) {
        return 0;
    }
    c->p += length;
    return 1;
}

#define LITERAL(c, text) literal((c), (text), (Py_ssize_t)(sizeof(text) - 1))

/* Character classes, a bit each, looked up by byte (every byte >= 0x80 is in none). */
enum { DIGIT = 1, ALNUM = 2, CHANNEL = 4 };
static unsigned char classes[256];

static void
init_classes(void)
{
    for (int ch = 0; ch < 256; ch++) {
        int digit = ch >= '0' && ch <= '9';
        int lower = ch >= 'a' && ch <= 'z';
        int upper = ch >= 'A' && ch <= 'Z';
        classes[ch] = (unsigned char)((digit ? DIGIT : 0) | (digit || lower || upper ? ALNUM : 0)
                                      | (digit || lower || ch == '_' ? CHANNEL : 0));
    }
}

static inline int
is_digit(unsigned char ch)
{
    return classes[ch] & DIGIT;
}

static inline int
is_alnum(unsigned char ch)
{
    return classes[ch] & ALNUM;
}

/* [A-Za-z0-9]{1,40} */
static int
identifier(Cursor *c)
{
    const unsigned char *start = c->p;
    while (c->p < c->end && c->p - start < ID_MAX && is_alnum(*c->p)) {
        c->p++;
    }
    return c->p > start;
}

/* "<prefix>_<identifier>", its span without the quotes, after the opening quote. */
static int
prefixed_id(Cursor *c, const char *prefix, Span *out)
{
    out->start = c->p;
    if (!literal(c, prefix, 3) || !identifier(c)) {
        return 0;
    }
    out->length = c->p - out->start;
    return 1;
}

/* Two digits from '0' up to first/second: "[0-a][0-9]" style ranges checked as a number. */
static int
two_digits(Cursor *c, int low, int high)
{
    if (c->end - c->p < 2 || !is_digit(c->p[0]) || !is_digit(c->p[1])) {
        return 0;
    }
    int value = (c->p[0] - '0') * 10 + (c->p[1] - '0');
    c->p += 2;
    return value >= low && value <= high;
}

/* YYYY-MM-DDTHH:MM:SS.mmmZ: year 0001-9999, month 01-12, day 01-31, hour 00-23,
 * minute and second 00-59 (the oracle's _AT). */
static int
instant(Cursor *c, Span *out)
{
    out->start = c->p;
    if (c->end - c->p < 24) {
        return 0;
    }
    const unsigned char *p = c->p;
    for (int i = 0; i < 4; i++) {
        if (!is_digit(p[i])) {
            return 0;
        }
    }
    if (p[0] == '0' && p[1] == '0' && p[2] == '0' && p[3] == '0') {
        return 0;
    }
    c->p += 4;
    if (!LITERAL(c, "-") || !two_digits(c, 1, 12) || !LITERAL(c, "-") || !two_digits(c, 1, 31)
        || !LITERAL(c, "T") || !two_digits(c, 0, 23) || !LITERAL(c, ":")
        || !two_digits(c, 0, 59) || !LITERAL(c, ":") || !two_digits(c, 0, 59)
        || !LITERAL(c, ".")) {
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        if (!is_digit(c->p[i])) {
            return 0;
        }
    }
    c->p += 3;
    if (!LITERAL(c, "Z")) {
        return 0;
    }
    out->length = 24;
    return 1;
}

/* 1 to 10**12 without leading zeros: [1-9][0-9]{0,11} or exactly 1000000000000. */
static int
amount(Cursor *c, long long *out)
{
    const unsigned char *start = c->p;
    if (c->p >= c->end || *c->p < '1' || *c->p > '9') {
        return 0;
    }
    long long value = 0;
    while (c->p < c->end && is_digit(*c->p) && c->p - start < AMOUNT_DIGITS) {
        value = value * 10 + (*c->p - '0');
        c->p++;
    }
    Py_ssize_t digits = c->p - start;
    if (digits == AMOUNT_DIGITS && memcmp(start, "1000000000000", AMOUNT_DIGITS) != 0) {
        return 0;
    }
    *out = value;
    return 1;
}

/* 0, or [1-9][0-9]{0,15}. */
static int
sequence(Cursor *c, long long *out)
{
    if (c->p >= c->end || !is_digit(*c->p)) {
        return 0;
    }
    if (*c->p == '0') {
        c->p++;
        *out = 0;
        return 1;
    }
    const unsigned char *start = c->p;
    long long value = 0;
    while (c->p < c->end && is_digit(*c->p) && c->p - start < SEQ_DIGITS) {
        value = value * 10 + (*c->p - '0');
        c->p++;
    }
    *out = value;
    return 1;
}

/* platform | charity:ch_<identifier> */
static int
actor(Cursor *c, Span *out)
{
    out->start = c->p;
    if (LITERAL(c, "platform")) {
        out->length = 8;
        return 1;
    }
    if (!LITERAL(c, "charity:ch_") || !identifier(c)) {
        return 0;
    }
    out->length = c->p - out->start;
    return 1;
}

/* [a-z][a-z0-9_]{0,31} */
static int
channel(Cursor *c, Span *out)
{
    out->start = c->p;
    if (c->p >= c->end || *c->p < 'a' || *c->p > 'z') {
        return 0;
    }
    c->p++;
    while (c->p < c->end && c->p - out->start < 32 && (classes[*c->p] & CHANNEL)) {
        c->p++;
    }
    out->length = c->p - out->start;
    return 1;
}

/* [A-Z]{3} */
static int
currency(Cursor *c, Span *out)
{
    out->start = c->p;
    if (c->end - c->p < 3) {
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        if (c->p[i] < 'A' || c->p[i] > 'Z') {
            return 0;
        }
    }
    c->p += 3;
    out->length = 3;
    return 1;
}

/* 0x[0-9a-f]{64} */
static int
hash(Cursor *c)
{
    if (!LITERAL(c, "0x") || c->end - c->p < 64) {
        return 0;
    }
    /* Eight characters at a time: in a word of ASCII bytes, adding 0x80 - k to each byte
     * sets its top bit exactly when the byte is >= k, and no sum carries into the next
     * byte. A byte is a lowercase hex digit when it is in '0'..'9' or in 'a'..'f'. */
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
    uint64_t bad = 0;
    for (int i = 0; i < 64; i += 8) {
        uint64_t x;
        memcpy(&x, c->p + i, 8);
        uint64_t from_0 = x + ones * (0x80 - '0'), after_9 = x + ones * (0x80 - '9' - 1);
        uint64_t from_a = x + ones * (0x80 - 'a'), after_f = x + ones * (0x80 - 'f' - 1);
        uint64_t hex = (from_0 & ~after_9) | (from_a & ~after_f);
        bad |= (x & tops) | (~hex & tops);
    }
    if (bad) {
        return 0;
    }
    c->p += 64;
    return 1;
}

/* The fields of a line of a shape, as the lenient expressions of the oracle group them. */
typedef struct {
    Span actor, at, channel, charity, currency, donation, paid_at, project;
    Span allocation, disbursement;
    long long amount, seq;
} Fields;

/* '{"actor":"…","at":"…","body":{' */
static int
head(Cursor *c, Fields *f)
{
    return LITERAL(c, "{\"actor\":\"") && actor(c, &f->actor) && LITERAL(c, "\",\"at\":\"")
           && instant(c, &f->at) && LITERAL(c, "\",\"body\":{");
}

/* '},"kind":"<kind>","seq":<seq>,"v":1}' and the end of the line. */
static int
tail(Cursor *c, Fields *f, const char *kind_field, Py_ssize_t length)
{
    return literal(c, kind_field, length) && sequence(c, &f->seq) && LITERAL(c, ",\"v\":1}")
           && c->p == c->end;
}

#define DONATION_KIND "},\"kind\":\"donation.received\",\"seq\":"
#define ALLOCATION_KIND "},\"kind\":\"allocation.made\",\"seq\":"

static int
donation(Cursor *c, Fields *f)
{
    if (!LITERAL(c, "\"amount\":") || !amount(c, &f->amount)
        || !LITERAL(c, ",\"channel\":\"") || !channel(c, &f->channel)
        || !LITERAL(c, "\",\"charity_id\":\"") || !prefixed_id(c, "ch_", &f->charity)
        || !LITERAL(c, "\",\"currency\":\"") || !currency(c, &f->currency)
        || !LITERAL(c, "\",\"donation_id\":\"") || !prefixed_id(c, "dn_", &f->donation)
        || !LITERAL(c, "\",\"donor_commitment\":\"") || !hash(c)
        || !LITERAL(c, "\",\"paid_at\":\"") || !instant(c, &f->paid_at)
        || !LITERAL(c, "\",\"payment_ref_hash\":\"") || !hash(c)
        || !LITERAL(c, "\",\"project_id\":")) {
        return 0;
    }
    if (LITERAL(c, "null")) {
        f->project.start = NULL; /* None */
        f->project.length = 0;
    }
    else if (!LITERAL(c, "\"") || !prefixed_id(c, "pr_", &f->project) || !LITERAL(c, "\"")) {
        return 0;
    }
    return tail(c, f, DONATION_KIND, (Py_ssize_t)(sizeof(DONATION_KIND) - 1));
}

static int
allocation(Cursor *c, Fields *f)
{
    return LITERAL(c, "\"allocation_id\":\"") && prefixed_id(c, "al_", &f->allocation)
           && LITERAL(c, "\",\"amount\":") && amount(c, &f->amount)
           && LITERAL(c, ",\"disbursement_id\":\"") && prefixed_id(c, "db_", &f->disbursement)
           && LITERAL(c, "\",\"donation_id\":\"") && prefixed_id(c, "dn_", &f->donation)
           && LITERAL(c, "\"") && tail(c, f, ALLOCATION_KIND,
                                       (Py_ssize_t)(sizeof(ALLOCATION_KIND) - 1));
}

static int
shape_of(const unsigned char *line, const unsigned char *end, Fields *f)
{
    Cursor c = {line, end};
    if (!head(&c, f)) {
        return OTHER;
    }
    const unsigned char *body = c.p;
    if (donation(&c, f)) {
        return DONATION;
    }
    c.p = body;
    if (allocation(&c, f)) {
        return ALLOCATION;
    }
    return OTHER;
}

/* -- building the columns --------------------------------------------------------------- */

/* An ASCII str of a span (every character of a field of a shape is ASCII). */
static PyObject *
text(Span s)
{
    PyObject *value = PyUnicode_New(s.length, 127);
    if (value != NULL) {
        memcpy(PyUnicode_DATA(value), s.start, (size_t)s.length);
    }
    return value;
}

/* Recently seen strings of a column, so a value repeated down a column is one object,
 * interned: one copy of it in the books, however many blocks it appears in. */
#define CACHE_SLOTS 64
typedef struct {
    PyObject *values[CACHE_SLOTS];
} Cache;

static PyObject *
cached_text(Cache *cache, Span s)
{
    /* FNV-1a over the bytes, into a direct-mapped table: a miss only costs a new str. */
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < s.length; i++) {
        h = (h ^ s.start[i]) * 16777619u;
    }
    PyObject **slot = &cache->values[h % CACHE_SLOTS];
    PyObject *seen = *slot;
    if (seen != NULL && PyUnicode_GET_LENGTH(seen) == s.length
        && memcmp(PyUnicode_DATA(seen), s.start, (size_t)s.length) == 0) {
        Py_INCREF(seen);
        return seen;
    }
    PyObject *value = text(s);
    if (value != NULL) {
        PyUnicode_InternInPlace(&value);
        Py_XDECREF(seen);
        Py_INCREF(value);
        *slot = value;
    }
    return value;
}

static void
clear_cache(Cache *cache)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        Py_CLEAR(cache->values[i]);
    }
}

/* Append a new reference to a list, and drop it; 0 on failure. */
static int
push(PyObject *list, PyObject *value)
{
    if (value == NULL) {
        return 0;
    }
    int failed = PyList_Append(list, value);
    Py_DECREF(value);
    return failed == 0;
}

enum { D_ACTOR, D_AT, D_AMOUNT, D_CHANNEL, D_CHARITY, D_CURRENCY, D_DONATION, D_PAID_AT,
       D_PROJECT, D_SEQ, D_COLUMNS };
enum { A_ACTOR, A_AT, A_ALLOCATION, A_AMOUNT, A_DISBURSEMENT, A_DONATION, A_SEQ, A_COLUMNS };

typedef struct {
    Cache actor, channel, charity, currency, project;
} Caches;

static int
push_donation(PyObject **columns, const Fields *f, Caches *caches)
{
    return push(columns[D_ACTOR], cached_text(&caches->actor, f->actor))
           && push(columns[D_AT], text(f->at))
           && push(columns[D_AMOUNT], PyLong_FromLongLong(f->amount))
           && push(columns[D_CHANNEL], cached_text(&caches->channel, f->channel))
           && push(columns[D_CHARITY], cached_text(&caches->charity, f->charity))
           && push(columns[D_CURRENCY], cached_text(&caches->currency, f->currency))
           && push(columns[D_DONATION], text(f->donation))
           && push(columns[D_PAID_AT], text(f->paid_at))
           && push(columns[D_PROJECT], f->project.start == NULL
                                           ? Py_NewRef(Py_None)
                                           : cached_text(&caches->project, f->project))
           && push(columns[D_SEQ], PyLong_FromLongLong(f->seq));
}

static int
push_allocation(PyObject **columns, const Fields *f, Caches *caches)
{
    return push(columns[A_ACTOR], cached_text(&caches->actor, f->actor))
           && push(columns[A_AT], text(f->at))
           && push(columns[A_ALLOCATION], text(f->allocation))
           && push(columns[A_AMOUNT], PyLong_FromLongLong(f->amount))
           && push(columns[A_DISBURSEMENT], text(f->disbursement))
           && push(columns[A_DONATION], text(f->donation))
           && push(columns[A_SEQ], PyLong_FromLongLong(f->seq));
}

static PyObject *
new_columns(PyObject **columns, int count)
{
    PyObject *tuple = PyTuple_New(count);
    if (tuple == NULL) {
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        columns[i] = PyList_New(0);
        if (columns[i] == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, i, columns[i]); /* the tuple owns it */
    }
    return tuple;
}

/* What scan gives, by version: 2 since it gives the lines behind the leaf prefix (before,
 * their starts). audit/scanner.py refuses a module built from another version. */
#define INTERFACE 2

PyDoc_STRVAR(scan_doc,
"scan(block: bytes) -> (shapes, leaves, donations, allocations)\n\n"
"The lines of ``block`` are what lies between its newlines. ``shapes`` has one byte a\n"
"line: DONATION (1), ALLOCATION (2) or OTHER (0).\n"
"``leaves`` is a list of bytes, one a line: 0x00 followed by the line, what its RFC 6962\n"
"leaf hash hashes.\n"
"``donations`` is a tuple of columns, one item a donation line in order: actor, at,\n"
"amount (int), channel, charity_id, currency, donation_id, paid_at, project_id (None\n"
"for null), seq (int), the values repeated down a column interned; ``allocations`` likewise: actor, at, allocation_id, amount (int),\n"
"disbursement_id, donation_id, seq (int).");

static PyObject *
scan(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) {
        return NULL;
    }
    const unsigned char *data = view.buf;
    Py_ssize_t size = view.len;
    PyObject *result = NULL, *shapes = NULL, *leaves = NULL, *donations = NULL;
    PyObject *allocations = NULL;
    PyObject *dcolumns[D_COLUMNS], *acolumns[A_COLUMNS];
    Caches caches;
    memset(&caches, 0, sizeof(caches));

    Py_ssize_t lines = 1;
    for (const unsigned char *p = data; (p = memchr(p, '\n', (size_t)(data + size - p)));
         p++) {
        lines++;
    }
    if ((shapes = PyBytes_FromStringAndSize(NULL, lines)) == NULL
        || (leaves = PyList_New(lines)) == NULL
        || (donations = new_columns(dcolumns, D_COLUMNS)) == NULL
        || (allocations = new_columns(acolumns, A_COLUMNS)) == NULL) {
        goto done;
    }
    char *shape = PyBytes_AS_STRING(shapes);
    const unsigned char *line = data;
    for (Py_ssize_t i = 0; i < lines; i++) {
        const unsigned char *newline = memchr(line, '\n', (size_t)(data + size - line));
        const unsigned char *end = newline != NULL ? newline : data + size;
        /* The leaf hash's input, 0x00 then the line: one copy of the line, no other. */
        PyObject *leaf = PyBytes_FromStringAndSize(NULL, (end - line) + 1);
        if (leaf == NULL) {
            goto done;
        }
        PyBytes_AS_STRING(leaf)[0] = 0;
        memcpy(PyBytes_AS_STRING(leaf) + 1, line, (size_t)(end - line));
        PyList_SET_ITEM(leaves, i, leaf); /* the list owns it */
        Fields f;
        int kind = shape_of(line, end, &f);
        shape[i] = (char)kind;
        if (kind == DONATION && !push_donation(dcolumns, &f, &caches)) {
            goto done;
        }
        if (kind == ALLOCATION && !push_allocation(acolumns, &f, &caches)) {
            goto done;
        }
        line = end + 1;
    }
    result = PyTuple_Pack(4, shapes, leaves, donations, allocations);

done:
    clear_cache(&caches.actor);
    clear_cache(&caches.channel);
    clear_cache(&caches.charity);
    clear_cache(&caches.currency);
    clear_cache(&caches.project);
    Py_XDECREF(shapes);
    Py_XDECREF(leaves);
    Py_XDECREF(donations);
    Py_XDECREF(allocations);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, scan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "audit._scan",
    .m_doc = "The strict shapes and fields of donation and allocation lines, in C (ADR 0015).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    init_classes();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "ENTRY_VERSION", ENTRY_VERSION) < 0
        || PyModule_AddIntConstant(m, "AMOUNT_DIGITS", AMOUNT_DIGITS) < 0
        || PyModule_AddIntConstant(m, "SEQ_DIGITS", SEQ_DIGITS) < 0
        || PyModule_AddIntConstant(m, "ID_MAX", ID_MAX) < 0
        || PyModule_AddIntConstant(m, "INTERFACE", INTERFACE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

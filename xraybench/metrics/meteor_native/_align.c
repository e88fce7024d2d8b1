/* Meteor 1.5's aligner (the jar's Aligner: matchers, definite matches, beam search, statistics) in C, for
 * the native METEOR backend.
 *
 * `align_stats` does for one segment pair what `aligner.align_stats_py` does, step by step (the tests run both
 * on thousands of pairs and against the jar). Paraphrase matching stays in Python (it needs the table) and is
 * passed in. It exists only for speed: the Python version is ~2 ms per report pair, which made METEOR 90% of
 * the lexical pipeline. Same match order, same ranking (weighted match count held in Java ints, then fewer
 * chunks, then smaller distance, stable), same beam of 40, same quirk of adding a new path's distance to its
 * parent.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BEAM_SIZE 40

typedef struct {
    int module; /* 0 exact, 1 stem, 2 synonym, 3 paraphrase; -1 = no match */
    int start, length, mstart, mlength; /* start/length in the reference, mstart/mlength in the test */
} Match;

typedef struct {
    long long neg, chunks, dist, m1, m2;
    long long order; /* position when appended: makes the sort stable */
    int idx, last_end;
    int chosen; /* node index, -1 = none */
    int slot;   /* where this path's bit sets live in its step's buffer */
} Path;

typedef struct {
    int *match; /* index into the flat match array */
    int *parent;
    int n, cap;
} Nodes;

static const double WEIGHTS[4] = {1.0, 0.5, 0.5, 0.5};

static int any_bit(const uint64_t *bits, int from, int len) {
    for (int k = from; k < from + len; k++) {
        if (bits[k >> 6] & (1ULL << (k & 63))) return 1;
    }
    return 0;
}

static void set_bits(uint64_t *bits, int from, int len) {
    for (int k = from; k < from + len; k++) bits[k >> 6] |= 1ULL << (k & 63);
}

static int compare_paths(const void *a, const void *b) {
    const Path *p = (const Path *)a, *q = (const Path *)b;
    if (p->neg != q->neg) return p->neg < q->neg ? -1 : 1;
    if (p->chunks != q->chunks) return p->chunks < q->chunks ? -1 : 1;
    if (p->dist != q->dist) return p->dist < q->dist ? -1 : 1;
    return p->order < q->order ? -1 : (p->order > q->order ? 1 : 0);
}

static int path_less(const Path *p, const Path *q) { /* the rank only, for the final min() */
    if (p->neg != q->neg) return p->neg < q->neg;
    if (p->chunks != q->chunks) return p->chunks < q->chunks;
    return p->dist < q->dist;
}

static int add_node(Nodes *nodes, int match, int parent) {
    if (nodes->n == nodes->cap) {
        int cap = nodes->cap ? nodes->cap * 2 : 256;
        int *m = realloc(nodes->match, sizeof(int) * cap);
        if (!m) return -1;
        nodes->match = m;
        int *p = realloc(nodes->parent, sizeof(int) * cap);
        if (!p) return -1;
        nodes->parent = p;
        nodes->cap = cap;
    }
    nodes->match[nodes->n] = match;
    nodes->parent[nodes->n] = parent;
    return nodes->n++;
}

static int read_match(PyObject *tuple, Match *out) {
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) < 5) {
        PyErr_SetString(PyExc_TypeError, "a match must be a tuple (module, start, length, match_start, match_length, ...)");
        return -1;
    }
    long v[5];
    for (int i = 0; i < 5; i++) {
        v[i] = PyLong_AsLong(PyTuple_GET_ITEM(tuple, i));
        if (v[i] == -1 && PyErr_Occurred()) return -1;
    }
    if (v[0] < 0 || v[0] > 3) {
        PyErr_SetString(PyExc_ValueError, "match module must be 0..3");
        return -1;
    }
    out->module = (int)v[0];
    out->start = (int)v[1];
    out->length = (int)v[2];
    out->mstart = (int)v[3];
    out->mlength = (int)v[4];
    return 0;
}

/* The beam search over `flat` (candidates per reference position, bucketed by `offset`) given the definite
 * matches (`definite[j].module < 0` = none). Writes the picked matches' flat indices to `*picked` (malloc'ed,
 * caller frees) and returns how many, or -1 when out of memory. */
static int resolve_core(const Match *flat, const int *offset, const Match *definite, int n, int n_test, int **picked) {
    const int w1 = (n_test + 63) / 64 + 1, w2 = (n + 63) / 64 + 1, words = w1 + w2;
    int count = -1;
    Path *cur = NULL, *next = NULL;
    uint64_t *cur_bits = NULL, *next_bits = NULL;
    Nodes nodes = {NULL, NULL, 0, 0};
    size_t next_cap = 0;
    *picked = NULL;

    cur = malloc(sizeof(Path));
    cur_bits = calloc(words, sizeof(uint64_t));
    if (!cur || !cur_bits) goto done;
    for (int j = 0; j < n; j++) { /* the start path: the definite matches are already used */
        if (definite[j].module >= 0) {
            set_bits(cur_bits, definite[j].mstart, definite[j].mlength);
            set_bits(cur_bits + w1, definite[j].start, definite[j].length);
        }
    }
    Path start = {0, 0, 0, 0, 0, 0, 0, -1, -1, 0};
    cur[0] = start;
    size_t n_cur = 1, cur_cap = 1;

    for (int current = 0; current <= n; current++) {
        if (n_cur > 1) qsort(cur, n_cur, sizeof(Path), compare_paths);
        size_t kept = n_cur < BEAM_SIZE ? n_cur : BEAM_SIZE;
        int n_options = current < n ? offset[current + 1] - offset[current] : 0;
        size_t need = kept * (size_t)(n_options + 1) + 1;
        if (need > next_cap) {
            Path *p = realloc(next, sizeof(Path) * need);
            if (!p) goto done;
            next = p;
            uint64_t *b = realloc(next_bits, sizeof(uint64_t) * words * need);
            if (!b) goto done;
            next_bits = b;
            next_cap = need;
        }
        size_t n_next = 0;
#define APPEND_FROM(src_bits) \
    do { \
        next[n_next].slot = (int)n_next; \
        next[n_next].order = (long long)n_next; \
        memcpy(next_bits + n_next * words, (src_bits), sizeof(uint64_t) * words); \
        n_next++; \
    } while (0)
        for (size_t p = 0; p < kept; p++) {
            Path path = cur[p];
            const uint64_t *bits = cur_bits + (size_t)path.slot * words;
            if (current == n) {
                if (path.last_end != -1) path.chunks += 1;
                next[n_next] = path;
                APPEND_FROM(bits);
                continue;
            }
            const uint64_t *used2 = bits + w1;
            if (used2[current >> 6] & (1ULL << (current & 63))) {
                if (current < path.idx) {
                    next[n_next] = path;
                    APPEND_FROM(bits);
                    continue;
                }
                const Match *m = &definite[path.idx];
                if (m->module >= 0) {
                    double w = WEIGHTS[m->module];
                    long long m1 = (long long)((double)path.m1 + m->mlength * w);
                    long long m2 = (long long)((double)path.m2 + m->length * w);
                    long long chunks = path.chunks;
                    if (path.last_end != -1 && m->mstart != path.last_end) chunks += 1;
                    Path succ = path;
                    succ.neg = -(m1 + m2);
                    succ.chunks = chunks;
                    succ.dist = path.dist + llabs((long long)m->start - m->mstart);
                    succ.m1 = m1;
                    succ.m2 = m2;
                    succ.idx = m->start + m->length;
                    succ.last_end = m->mstart + m->mlength;
                    next[n_next] = succ;
                    APPEND_FROM(bits);
                }
                continue;
            }
            long long dist = path.dist;
            for (int k = offset[current]; k < offset[current + 1]; k++) {
                const Match *m = &flat[k];
                if (any_bit(used2, m->start, m->length) || any_bit(bits, m->mstart, m->mlength)) continue;
                double w = WEIGHTS[m->module];
                long long m1 = (long long)((double)path.m1 + m->mlength * w);
                long long m2 = (long long)((double)path.m2 + m->length * w);
                long long chunks = path.chunks;
                if (path.last_end != -1 && m->mstart != path.last_end) chunks += 1;
                int node = add_node(&nodes, k, path.chosen);
                if (node < 0) goto done;
                Path succ = {-(m1 + m2), chunks, dist, m1, m2, 0, m->start + m->length, m->mstart + m->mlength,
                             node, 0};
                next[n_next] = succ;
                uint64_t *dst = next_bits + n_next * words;
                APPEND_FROM(bits);
                set_bits(dst, m->mstart, m->mlength);
                set_bits(dst + w1, m->start, m->length);
                dist += llabs((long long)m->start - m->mstart); /* the jar adds this to the parent path */
            }
            Path skip = path;
            if (path.last_end != -1) skip.chunks += 1;
            skip.dist = dist;
            skip.idx = path.idx + 1;
            skip.last_end = -1;
            next[n_next] = skip;
            APPEND_FROM(bits);
        }
        if (n_next == 0) {
            next[0] = cur[0];
            APPEND_FROM(cur_bits + (size_t)cur[0].slot * words);
        }
#undef APPEND_FROM
        Path *tp = cur; /* swap the step buffers */
        cur = next;
        next = tp;
        uint64_t *tb = cur_bits;
        cur_bits = next_bits;
        next_bits = tb;
        size_t tc = cur_cap;
        cur_cap = next_cap;
        next_cap = tc;
        n_cur = n_next;
    }

    size_t best = 0;
    for (size_t p = 1; p < n_cur; p++) {
        if (path_less(&cur[p], &cur[best])) best = p;
    }
    int n_picked = 0;
    for (int node = cur[best].chosen; node != -1; node = nodes.parent[node]) n_picked++;
    *picked = malloc(sizeof(int) * (n_picked + 1));
    if (!*picked) goto done;
    count = 0;
    for (int node = cur[best].chosen; node != -1; node = nodes.parent[node]) (*picked)[count++] = nodes.match[node];

done:
    free(cur);
    free(next);
    free(cur_bits);
    free(next_bits);
    free(nodes.match);
    free(nodes.parent);
    return count;
}

/* a growable array of matches */
typedef struct {
    Match *items;
    int n, cap;
} Matches;

static int push(Matches *list, int module, int start, int length, int mstart, int mlength) {
    if (list->n == list->cap) {
        int cap = list->cap ? list->cap * 2 : 256;
        Match *items = realloc(list->items, sizeof(Match) * cap);
        if (!items) return -1;
        list->items = items;
        list->cap = cap;
    }
    Match m = {module, start, length, mstart, mlength};
    list->items[list->n++] = m;
    return 0;
}

/* a Python list of ints as a C array */
static long long *int_array(PyObject *list, const char *what, Py_ssize_t *size) {
    PyObject *seq = PySequence_Fast(list, what);
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    long long *out = malloc(sizeof(long long) * (n + 1));
    if (!out) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (out[i] == -1 && PyErr_Occurred()) {
            free(out);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    *size = n;
    return out;
}

/* synonym sets: a list of sorted int tuples, flattened with offsets */
static int syn_arrays(PyObject *list, Py_ssize_t n, long long **values, int **offsets) {
    PyObject *seq = PySequence_Fast(list, "synonym sets must be a sequence");
    if (!seq) return -1;
    if (PySequence_Fast_GET_SIZE(seq) != n) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "one synonym set per word expected");
        return -1;
    }
    *offsets = malloc(sizeof(int) * (n + 1));
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) total += PyObject_Length(PySequence_Fast_GET_ITEM(seq, i));
    *values = malloc(sizeof(long long) * (total + 1));
    if (!*offsets || !*values) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    int at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        (*offsets)[i] = at;
        Py_ssize_t size;
        long long *one = int_array(PySequence_Fast_GET_ITEM(seq, i), "a synonym set must be a sequence", &size);
        if (!one) {
            Py_DECREF(seq);
            return -1;
        }
        memcpy(*values + at, one, sizeof(long long) * size);
        at += (int)size;
        free(one);
    }
    (*offsets)[n] = at;
    Py_DECREF(seq);
    return 0;
}

static int intersects(const long long *a, int na, const long long *b, int nb) { /* both sorted */
    int i = 0, j = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) return 1;
        if (a[i] < b[j]) i++;
        else j++;
    }
    return 0;
}

/* align_stats(h1, h2, s1, s2, syn1, syn2, fun1, fun2, paraphrases, modules) -> the jar's 23 statistics.
 * h = word hashes, s = stem hashes, syn = sorted synonym-set ids, fun = function-word flags (test, reference),
 * paraphrases = the paraphrase matches in the order the Python matcher finds them, modules = 1 (exact only, for
 * identical segments) or 4. Mirrors `aligner.align_stats_py` step by step. */
static PyObject *align_stats(PyObject *self, PyObject *args) {
    PyObject *o_h1, *o_h2, *o_s1, *o_s2, *o_syn1, *o_syn2, *o_f1, *o_f2, *o_para;
    int modules;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOi", &o_h1, &o_h2, &o_s1, &o_s2, &o_syn1, &o_syn2, &o_f1, &o_f2, &o_para,
                          &modules))
        return NULL;
    PyObject *result = NULL;
    long long *h1 = NULL, *h2 = NULL, *s1 = NULL, *s2 = NULL, *f1 = NULL, *f2 = NULL;
    long long *syn1 = NULL, *syn2 = NULL;
    int *so1 = NULL, *so2 = NULL, *cov1 = NULL, *cov2 = NULL, *offset = NULL, *fill = NULL, *picked = NULL;
    Matches all = {NULL, 0, 0};
    Match *flat = NULL, *definite = NULL, *chosen = NULL;
    Py_ssize_t n1, n2, k;

    if (!(h1 = int_array(o_h1, "h1", &n1)) || !(h2 = int_array(o_h2, "h2", &n2))) goto done;
    if (!(f1 = int_array(o_f1, "fun1", &k)) || k != n1 || !(f2 = int_array(o_f2, "fun2", &k)) || k != n2) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "one function-word flag per word expected");
        goto done;
    }
    cov1 = calloc(n1 + 1, sizeof(int));
    cov2 = calloc(n2 + 1, sizeof(int));
    if (!cov1 || !cov2) goto nomem;

    for (int j = 0; j < n2; j++) /* exact */
        for (int i = 0; i < n1; i++)
            if (h1[i] == h2[j] && push(&all, 0, j, 1, i, 1) < 0) goto nomem;
    if (modules > 1) {
        if (!(s1 = int_array(o_s1, "s1", &k)) || k != n1 || !(s2 = int_array(o_s2, "s2", &k)) || k != n2) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "one stem hash per word expected");
            goto done;
        }
        for (int j = 0; j < n2; j++) /* stem */
            for (int i = 0; i < n1; i++)
                if (s1[i] == s2[j] && h1[i] != h2[j] && push(&all, 1, j, 1, i, 1) < 0) goto nomem;
        if (syn_arrays(o_syn1, n1, &syn1, &so1) < 0 || syn_arrays(o_syn2, n2, &syn2, &so2) < 0) goto done;
        for (int j = 0; j < n2; j++) { /* synonym */
            int nb = so2[j + 1] - so2[j];
            if (nb == 0) continue;
            for (int i = 0; i < n1; i++)
                if (h1[i] != h2[j] && intersects(syn1 + so1[i], so1[i + 1] - so1[i], syn2 + so2[j], nb) &&
                    push(&all, 2, j, 1, i, 1) < 0)
                    goto nomem;
        }
        PyObject *seq = PySequence_Fast(o_para, "paraphrases must be a sequence");
        if (!seq) goto done;
        for (Py_ssize_t p = 0; p < PySequence_Fast_GET_SIZE(seq); p++) {
            Match m;
            if (read_match(PySequence_Fast_GET_ITEM(seq, p), &m) < 0 || m.start < 0 || m.start + m.length > n2 ||
                m.mstart < 0 || m.mstart + m.mlength > n1) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "paraphrase match outside the segment");
                Py_DECREF(seq);
                goto done;
            }
            if (push(&all, m.module, m.start, m.length, m.mstart, m.mlength) < 0) {
                Py_DECREF(seq);
                goto nomem;
            }
        }
        Py_DECREF(seq);
    }
    for (int q = 0; q < all.n; q++) { /* coverage */
        const Match *m = &all.items[q];
        for (int t = 0; t < m->mlength; t++) cov1[m->mstart + t]++;
        for (int t = 0; t < m->length; t++) cov2[m->start + t]++;
    }
    /* bucket by reference position, keeping the order of discovery within a position */
    offset = calloc(n2 + 1, sizeof(int));
    fill = calloc(n2 + 1, sizeof(int));
    flat = malloc(sizeof(Match) * (all.n + 1));
    definite = malloc(sizeof(Match) * (n2 + 1));
    chosen = malloc(sizeof(Match) * (n2 + 1));
    if (!offset || !fill || !flat || !definite || !chosen) goto nomem;
    for (int q = 0; q < all.n; q++) offset[all.items[q].start + 1]++;
    for (int j = 0; j < n2; j++) offset[j + 1] += offset[j];
    for (int q = 0; q < all.n; q++) {
        int j = all.items[q].start;
        flat[offset[j] + fill[j]++] = all.items[q];
    }
    for (int j = 0; j < n2; j++) { /* definite: the only candidate here, and its words have no other */
        definite[j].module = -1;
        if (offset[j + 1] - offset[j] != 1) continue;
        const Match *m = &flat[offset[j]];
        int alone = 1;
        for (int t = 0; t < m->length && alone; t++) alone = cov2[j + t] == 1;
        for (int t = 0; t < m->mlength && alone; t++) alone = cov1[m->mstart + t] == 1;
        if (alone) definite[j] = *m;
    }
    int n_picked = resolve_core(flat, offset, definite, (int)n2, (int)n1, &picked);
    if (n_picked < 0) goto nomem;
    memcpy(chosen, definite, sizeof(Match) * n2);
    for (int p = 0; p < n_picked; p++) chosen[flat[picked[p]].start] = flat[picked[p]];

    double stage[4][4] = {{0}};
    for (int j = 0; j < n2; j++) {
        const Match *m = &chosen[j];
        if (m->module < 0) continue;
        for (int t = 0; t < m->mlength; t++) stage[m->module][f1[m->mstart + t] ? 2 : 0] += 1;
        for (int t = 0; t < m->length; t++) stage[m->module][f2[m->start + t] ? 3 : 1] += 1;
    }
    long long chunks = 0;
    int idx = 0, last_end = -1;
    while (idx < n2) { /* Aligner.getCountAndChunks */
        const Match *m = &chosen[idx];
        if (m->module < 0) {
            if (last_end != -1) {
                chunks++;
                last_end = -1;
            }
            idx++;
            continue;
        }
        if (last_end != -1 && m->mstart != last_end) chunks++;
        idx = m->start + m->length;
        last_end = m->mstart + m->mlength;
    }
    if (last_end != -1) chunks++;
    double fun_test = 0, fun_ref = 0, words1 = 0, words2 = 0;
    for (int i = 0; i < n1; i++) fun_test += f1[i] != 0;
    for (int j = 0; j < n2; j++) fun_ref += f2[j] != 0;
    for (int r = 0; r < 4; r++) {
        words1 += stage[r][0] + stage[r][2];
        words2 += stage[r][1] + stage[r][3];
    }
    result = PyTuple_New(23);
    if (!result) goto done;
    double values[23] = {(double)n1, (double)n2, fun_test, fun_ref};
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) values[4 + r * 4 + c] = stage[r][c];
    values[20] = (double)chunks;
    values[21] = words1;
    values[22] = words2;
    for (int v = 0; v < 23; v++) {
        PyObject *f = PyFloat_FromDouble(values[v]);
        if (!f) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, v, f);
    }
    goto done;

nomem:
    PyErr_NoMemory();
done:
    free(h1), free(h2), free(s1), free(s2), free(f1), free(f2), free(syn1), free(syn2);
    free(so1), free(so2), free(cov1), free(cov2), free(offset), free(fill), free(picked);
    free(all.items), free(flat), free(definite), free(chosen);
    return result;
}

static PyMethodDef methods[] = {
    {"align_stats", align_stats, METH_VARARGS,
     "align_stats(h1, h2, s1, s2, syn1, syn2, fun1, fun2, paraphrases, modules) -> Meteor 1.5's 23 statistics."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_align", "Meteor 1.5 beam search in C.", -1, methods};

PyMODINIT_FUNC PyInit__align(void) { return PyModule_Create(&module); }

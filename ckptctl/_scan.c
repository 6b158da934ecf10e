/* ckptctl._scan: the two loops a listing of 100,000 values spends its time in, in C.
 *
 * scan_block   the entries of one data block of a checkpoint index (an SSTable) and the
 *              BundleEntryProto of each, checked, made into ckptctl.bundle_index._Stored;
 * scan_graph   the nodes of a TrackableObjectGraph, made into ckptctl.objgraph.Node values.
 *
 * Each accepts only the plain encoding TensorFlow writes, and returns None at anything else:
 * an unexpected field, a varint past 64 bits, a key out of order, a value that does not check.
 * The Python decoders (bundle_index.py, objgraph.py) then read the same bytes from the start,
 * and give the result or name the damage; this module never decides that a file is damaged.
 * The Python decoders are the reference: tests/test_scan.py holds the two to the same results
 * on real checkpoints and on damaged and random bytes.
 *
 * Every read is checked against the end of its buffer before it is made. Only immutable
 * `bytes` are accepted, so no callback can change the buffer while it is read.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_RANK 254
#define INT63_MAX ((uint64_t)INT64_MAX)

/* A varint of at most max_bytes in buf[*pos:end] that fits 64 bits; 0 if there is none. */
static int
read_varint(const unsigned char *buf, Py_ssize_t *pos, Py_ssize_t end, int max_bytes,
            uint64_t *out)
{
    Py_ssize_t p = *pos;
    Py_ssize_t stop = end - p > max_bytes ? p + max_bytes : end;
    uint64_t result = 0;
    int shift = 0;
    while (p < stop) {
        unsigned char b = buf[p++];
        if (shift == 63 && (b & 0x7E)) {
            return 0;  /* more than 64 bits */
        }
        result |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) {
            *pos = p;
            *out = result;
            return 1;
        }
        shift += 7;
    }
    return 0;
}

/* Decoding failed on bytes that are not UTF-8: clear that error (the caller gives up on the
 * fast path) and return 1; any other error stays set, and 0 is returned. */
static int
cleared_decode_error(void)
{
    if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- index blocks */

typedef struct {
    uint64_t dtype, shard, offset, size;
    uint32_t crc;
    Py_ssize_t shape_start, shape_len;  /* the shape field's bytes; shape_start -1: none */
} Fields;

/* The fields of a BundleEntryProto in buf[0:end], as TensorFlow writes them; 0 otherwise. */
static int
parse_entry(const unsigned char *buf, Py_ssize_t end, Fields *f)
{
    Py_ssize_t pos = 0;
    uint64_t v;
    memset(f, 0, sizeof(*f));
    f->shape_start = -1;
    while (pos < end) {
        unsigned char tag = buf[pos++];
        switch (tag) {
        case 0x08: case 0x18: case 0x20: case 0x28:
            if (!read_varint(buf, &pos, end, 10, &v)) {
                return 0;
            }
            if (tag == 0x08 || tag == 0x18) {
                if (v >= ((uint64_t)1 << 31)) {
                    return 0;
                }
                if (tag == 0x08) { f->dtype = v; } else { f->shard = v; }
            }
            else {
                if (v > INT63_MAX) {
                    return 0;
                }
                if (tag == 0x20) { f->offset = v; } else { f->size = v; }
            }
            break;
        case 0x35:
            if (end - pos < 4) {
                return 0;
            }
            f->crc = (uint32_t)buf[pos] | ((uint32_t)buf[pos + 1] << 8)
                     | ((uint32_t)buf[pos + 2] << 16) | ((uint32_t)buf[pos + 3] << 24);
            pos += 4;
            break;
        case 0x12:
            if (f->shape_start >= 0 || !read_varint(buf, &pos, end, 10, &v)
                || v > (uint64_t)(end - pos)) {
                return 0;  /* a repeated shape merges: the Python decoder does that */
            }
            f->shape_start = pos;
            f->shape_len = (Py_ssize_t)v;
            pos += (Py_ssize_t)v;
            break;
        default:
            return 0;  /* slices (a partitioned value), unknown fields */
        }
    }
    return 1;
}

/* The dims of a TensorShapeProto whose dims carry only sizes; -1 for any other shape. */
static Py_ssize_t
parse_dims(const unsigned char *buf, Py_ssize_t pos, Py_ssize_t end, uint64_t *dims)
{
    Py_ssize_t rank = 0;
    uint64_t v;
    while (pos < end) {
        if (buf[pos++] != 0x12 || !read_varint(buf, &pos, end, 10, &v)
            || v > (uint64_t)(end - pos) || rank >= MAX_RANK) {
            return -1;
        }
        Py_ssize_t dim_end = pos + (Py_ssize_t)v;
        uint64_t size = 0;
        while (pos < dim_end) {
            if (buf[pos++] != 0x08 || !read_varint(buf, &pos, dim_end, 10, &size)
                || size > INT63_MAX) {
                return -1;
            }
        }
        dims[rank++] = size;
    }
    return rank;
}

/* (dims tuple, element count) of the shape in `shape`, from or into the cache `shapes`;
 * NULL with no error set when the shape is not one this module takes. */
static PyObject *
shape_of(const unsigned char *buf, const Fields *f, PyObject *shapes, uint64_t *count)
{
    uint64_t dims[MAX_RANK];
    const char *start = f->shape_start >= 0 ? (const char *)buf + f->shape_start : "";
    Py_ssize_t len = f->shape_start >= 0 ? f->shape_len : 0;
    PyObject *raw = PyBytes_FromStringAndSize(start, len);
    if (raw == NULL) {
        return NULL;
    }
    PyObject *known = PyDict_GetItemWithError(shapes, raw);  /* borrowed */
    if (known == NULL && PyErr_Occurred()) {
        Py_DECREF(raw);
        return NULL;
    }
    if (known != NULL) {
        Py_DECREF(raw);
        if (!PyTuple_Check(known) || PyTuple_GET_SIZE(known) != 2) {
            PyErr_SetString(PyExc_TypeError, "scan_block: bad shape cache");
            return NULL;
        }
        *count = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(known, 1));
        if (PyErr_Occurred()) {
            return NULL;
        }
        PyObject *t = PyTuple_GET_ITEM(known, 0);
        Py_INCREF(t);
        return t;
    }
    Py_ssize_t n = f->shape_start >= 0 ? parse_dims(buf, f->shape_start,
                                                     f->shape_start + f->shape_len, dims)
                                       : 0;
    if (n < 0) {
        Py_DECREF(raw);
        return NULL;
    }
    uint64_t c = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (dims[i] != 0 && c > INT63_MAX / dims[i]) {
            Py_DECREF(raw);
            return NULL;  /* more elements than an int64 counts */
        }
        c *= dims[i];
    }
    PyObject *tuple = PyTuple_New(n);
    PyObject *pair = NULL;
    if (tuple == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyLong_FromUnsignedLongLong(dims[i]);
        if (d == NULL) {
            goto fail;
        }
        PyTuple_SET_ITEM(tuple, i, d);
    }
    pair = Py_BuildValue("(OK)", tuple, (unsigned long long)c);
    if (pair == NULL || PyDict_SetItem(shapes, raw, pair) < 0) {
        goto fail;
    }
    Py_DECREF(pair);
    Py_DECREF(raw);
    *count = c;
    return tuple;
fail:
    Py_XDECREF(pair);
    Py_XDECREF(tuple);
    Py_DECREF(raw);
    return NULL;
}

/* A growable buffer for the current key of a block. */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
} KeyBuf;

static int
key_reserve(KeyBuf *k, Py_ssize_t cap)
{
    if (cap <= k->cap && k->data != NULL) {
        return 1;
    }
    Py_ssize_t want = cap < 256 ? 256 : cap * 2;
    char *data = PyMem_Realloc(k->data, (size_t)want);
    if (data == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    k->data = data;
    k->cap = want;
    return 1;
}

static PyObject *
stored_value(PyObject *stored_cls, PyObject *layout, PyObject *dims, uint64_t count,
             const Fields *f)
{
    PyObject *args[9] = {
        PyTuple_GET_ITEM(layout, 0),  /* name */
        PyTuple_GET_ITEM(layout, 1),  /* itemsize */
        PyTuple_GET_ITEM(layout, 2),  /* numpy type code */
        dims, NULL, NULL, NULL, NULL, NULL,
    };
    uint64_t ints[5] = {count, f->shard, f->offset, f->size, f->crc};
    PyObject *result = NULL;
    int i;
    for (i = 0; i < 5; i++) {
        args[4 + i] = PyLong_FromUnsignedLongLong(ints[i]);
        if (args[4 + i] == NULL) {
            goto done;
        }
    }
    result = PyObject_Vectorcall(stored_cls, args, 9, NULL);
done:
    for (int j = 4; j < 4 + i; j++) {
        Py_DECREF(args[j]);
    }
    return result;
}

/* scan_block(block, last_key, header_first, dtypes, string_layout, shapes, stored_cls,
 *            values) -> (last key, header value or None, highest shard) or None
 *
 * Adds the values of one data block of an index to the dict `values` (key -> _Stored).
 * `last_key` is the last key of the blocks before (None for the first block); with
 * `header_first`, the block's first entry must be the header (key b""), whose value is
 * returned unparsed. `dtypes` maps DataType numbers to (name, itemsize, numpy code);
 * `string_layout` is that triple for strings (DataType 7); `shapes` caches decoded shapes
 * (shape field bytes -> (dims, count)) across blocks. Shards are checked by the caller,
 * against the highest one returned. None: the Python decoder must read the index. */
static PyObject *
scan_block(PyObject *self, PyObject *args)
{
    PyObject *block, *last_key, *dtypes, *string_layout, *shapes, *stored_cls, *values;
    int header_first;
    if (!PyArg_ParseTuple(args, "SOpO!O!O!OO!", &block, &last_key, &header_first,
                          &PyDict_Type, &dtypes, &PyTuple_Type, &string_layout,
                          &PyDict_Type, &shapes, &stored_cls, &PyDict_Type, &values)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(string_layout) != 3
        || (last_key != Py_None && !PyBytes_Check(last_key))) {
        PyErr_SetString(PyExc_TypeError, "scan_block: bad arguments");
        return NULL;
    }
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(block);
    Py_ssize_t n = PyBytes_GET_SIZE(block);
    KeyBuf cur = {NULL, 0, 0}, prev = {NULL, 0, 0};
    PyObject *header = NULL, *result = NULL;
    long long max_shard = -1;
    int have_prev = 0;

    if (last_key != Py_None) {
        if (!key_reserve(&prev, PyBytes_GET_SIZE(last_key))) {
            goto done;
        }
        memcpy(prev.data, PyBytes_AS_STRING(last_key), (size_t)PyBytes_GET_SIZE(last_key));
        prev.len = PyBytes_GET_SIZE(last_key);
        have_prev = 1;
    }
    if (n < 4) {
        goto irregular;
    }
    uint32_t num_restarts = (uint32_t)buf[n - 4] | ((uint32_t)buf[n - 3] << 8)
                            | ((uint32_t)buf[n - 2] << 16) | ((uint32_t)buf[n - 1] << 24);
    if (num_restarts == 0 || num_restarts > (uint64_t)(n - 4) / 4) {
        goto irregular;
    }
    Py_ssize_t limit = n - 4 * (1 + (Py_ssize_t)num_restarts);
    Py_ssize_t pos = 0;
    int first = 1;
    while (pos < limit) {
        uint64_t shared, non_shared, value_len;
        if (limit - pos < 3) {
            goto irregular;
        }
        if ((buf[pos] | buf[pos + 1] | buf[pos + 2]) < 0x80) {
            shared = buf[pos];
            non_shared = buf[pos + 1];
            value_len = buf[pos + 2];
            pos += 3;
        }
        else if (!read_varint(buf, &pos, limit, 5, &shared)
                 || !read_varint(buf, &pos, limit, 5, &non_shared)
                 || !read_varint(buf, &pos, limit, 5, &value_len)) {
            goto irregular;
        }
        if (non_shared > (uint64_t)(limit - pos)
            || value_len > (uint64_t)(limit - pos) - non_shared
            || shared > (uint64_t)cur.len) {
            goto irregular;
        }
        Py_ssize_t key_end = pos + (Py_ssize_t)non_shared;
        Py_ssize_t value_end = key_end + (Py_ssize_t)value_len;
        /* The new key: `shared` bytes of the one before, then its own. */
        if (!key_reserve(&cur, (Py_ssize_t)(shared + non_shared))) {
            goto done;
        }
        memcpy(cur.data + shared, buf + pos, (size_t)non_shared);
        cur.len = (Py_ssize_t)(shared + non_shared);
        pos = value_end;
        if (have_prev) {
            Py_ssize_t common = prev.len < cur.len ? prev.len : cur.len;
            int c = memcmp(cur.data, prev.data, (size_t)common);
            if (c < 0 || (c == 0 && cur.len <= prev.len)) {
                goto irregular;  /* keys out of order */
            }
        }
        if (!key_reserve(&prev, cur.len)) {
            goto done;
        }
        memcpy(prev.data, cur.data, (size_t)cur.len);
        prev.len = cur.len;
        have_prev = 1;
        if (first && header_first) {
            first = 0;
            if (cur.len != 0) {
                goto irregular;  /* no header entry */
            }
            header = PyBytes_FromStringAndSize((const char *)buf + key_end,
                                               (Py_ssize_t)value_len);
            if (header == NULL) {
                goto done;
            }
            continue;
        }
        first = 0;

        Fields f;
        if (!parse_entry(buf + key_end, (Py_ssize_t)value_len, &f)) {
            goto irregular;
        }
        PyObject *layout;
        if (f.dtype == 7) {
            layout = string_layout;
        }
        else {
            PyObject *code = PyLong_FromUnsignedLongLong(f.dtype);
            if (code == NULL) {
                goto done;
            }
            layout = PyDict_GetItemWithError(dtypes, code);  /* borrowed */
            Py_DECREF(code);
            if (layout == NULL) {
                if (PyErr_Occurred()) {
                    goto done;
                }
                goto irregular;  /* resource, variant, invalid: the Python decoder says */
            }
            if (!PyTuple_Check(layout) || PyTuple_GET_SIZE(layout) != 3) {
                PyErr_SetString(PyExc_TypeError, "scan_block: bad dtype table");
                goto done;
            }
        }
        uint64_t count = 0;
        PyObject *dims = shape_of(buf + key_end, &f, shapes, &count);
        if (dims == NULL) {
            if (PyErr_Occurred()) {
                goto done;
            }
            goto irregular;
        }
        long itemsize = PyLong_AsLong(PyTuple_GET_ITEM(layout, 1));
        if (itemsize < 0) {
            Py_DECREF(dims);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "scan_block: bad dtype table");
            }
            goto done;
        }
        int fits;
        if (f.dtype == 7) {  /* lengths, their checksum, then the bytes */
            fits = (f.size == 0 && count == 0) || f.size >= count + 4;
        }
        else {
            fits = (count == 0 || (uint64_t)itemsize <= INT63_MAX / count)
                   && f.size == count * (uint64_t)itemsize;
        }
        if (!fits) {
            Py_DECREF(dims);
            goto irregular;
        }
        PyObject *key = PyUnicode_DecodeUTF8(cur.data, cur.len, NULL);
        if (key == NULL) {
            Py_DECREF(dims);
            if (cleared_decode_error()) {
                goto irregular;
            }
            goto done;
        }
        PyObject *stored = stored_value(stored_cls, layout, dims, count, &f);
        Py_DECREF(dims);
        if (stored == NULL) {
            Py_DECREF(key);
            goto done;
        }
        int set = PyDict_SetItem(values, key, stored);
        Py_DECREF(key);
        Py_DECREF(stored);
        if (set < 0) {
            goto done;
        }
        if ((long long)f.shard > max_shard) {
            max_shard = (long long)f.shard;
        }
    }
    if (first) {
        goto irregular;  /* a block without entries: the Python decoder takes it */
    }
    result = Py_BuildValue("(y#OL)", prev.data ? prev.data : "", prev.len,
                           header ? header : Py_None, max_shard);
    goto done;
irregular:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(header);
    PyMem_Free(cur.data);
    PyMem_Free(prev.data);
    return result;
}

/* ------------------------------------------------------------------------ object graphs */

typedef struct {
    const unsigned char *data;
    Py_ssize_t size;          /* of the whole graph: varints are read up to it */
    PyObject *strings;        /* names decoded so far, shared: str -> the same str */
    PyObject *known_key;      /* callable or None */
    PyObject *node_cls, *attr_cls;
    PyObject *empty;          /* "" */
} Graph;

#define IRREGULAR ((PyObject *)1)

/* A str of data[start:start+len], shared through g->strings; IRREGULAR if not UTF-8. */
static PyObject *
graph_string(Graph *g, Py_ssize_t start, Py_ssize_t len, int shared)
{
    PyObject *text = PyUnicode_DecodeUTF8((const char *)g->data + start, len, NULL);
    if (text == NULL) {
        return cleared_decode_error() ? IRREGULAR : NULL;
    }
    if (!shared) {
        return text;
    }
    PyObject *same = PyDict_SetDefault(g->strings, text, text);  /* borrowed */
    if (same == NULL) {
        Py_DECREF(text);
        return NULL;
    }
    Py_INCREF(same);
    Py_DECREF(text);
    return same;
}

/* A length or id: one byte, two bytes inline, or a varint read up to the graph's end. */
static int
graph_varint(Graph *g, Py_ssize_t *pos, uint64_t *out)
{
    return read_varint(g->data, pos, g->size, 10, out);
}

/* One TrackableObject in data[pos:end] as a Node; IRREGULAR where objgraph._scan_fields
 * would give up; NULL on an error. */
static PyObject *
scan_node(Graph *g, Py_ssize_t node_id, Py_ssize_t pos, Py_ssize_t end)
{
    const unsigned char *data = g->data;
    PyObject *children = NULL, *attributes = NULL, *result = IRREGULAR;
    PyObject *parts[3] = {NULL, NULL, NULL};
    uint64_t v;

    attributes = PyList_New(0);
    if (attributes == NULL) {
        return NULL;
    }
    while (pos < end) {
        unsigned char tag = data[pos];
        if (pos + 1 >= end) {
            goto done;
        }
        Py_ssize_t length = data[pos + 1];
        pos += 2;
        if (length >= 0x80) {
            Py_ssize_t p = pos - 1;
            if (!graph_varint(g, &p, &v) || v > (uint64_t)PY_SSIZE_T_MAX) {
                goto done;
            }
            length = (Py_ssize_t)v;
            pos = p;
        }
        if (length > end - pos) {
            goto done;
        }
        Py_ssize_t stop = pos + length;
        if (tag == 0x0A) {  /* children: ObjectReference {node_id = 1, local_name = 2} */
            if (length < 4 || data[pos] != 0x08) {
                goto done;
            }
            Py_ssize_t at = pos + 1;
            uint64_t child;
            if (!graph_varint(g, &at, &child)) {
                goto done;
            }
            if (at > stop - 2 || data[at] != 0x12 || data[at + 1] >= 0x80
                || at + 2 + data[at + 1] != stop) {
                goto done;
            }
            PyObject *name = graph_string(g, at + 2, data[at + 1], 1);
            if (name == NULL || name == IRREGULAR) {
                result = name;
                goto done;
            }
            PyObject *id = PyLong_FromUnsignedLongLong(child);
            if (id == NULL) {
                Py_DECREF(name);
                result = NULL;
                goto done;
            }
            PyObject *pair = PyTuple_Pack(2, name, id);
            Py_DECREF(name);
            Py_DECREF(id);
            if (pair == NULL || (children == NULL && (children = PyList_New(0)) == NULL)
                || PyList_Append(children, pair) < 0) {
                Py_XDECREF(pair);
                result = NULL;
                goto done;
            }
            Py_DECREF(pair);
        }
        else if (tag == 0x12) {  /* SerializedTensor {name, full_name, checkpoint_key} */
            for (int i = 0; i < 3; i++) {
                parts[i] = Py_NewRef(g->empty);
            }
            while (pos < stop) {
                unsigned char field = data[pos];
                if ((field != 0x0A && field != 0x12 && field != 0x1A) || pos + 1 >= stop) {
                    goto done;
                }
                Py_ssize_t p = pos + 1;
                if (!graph_varint(g, &p, &v) || v > (uint64_t)(stop - p)) {
                    goto done;
                }
                pos = p;
                PyObject *text = graph_string(g, pos, (Py_ssize_t)v, field == 0x0A);
                if (text == NULL || text == IRREGULAR) {
                    result = text;
                    goto done;
                }
                if (field == 0x1A && g->known_key != Py_None) {
                    PyObject *same = PyObject_CallOneArg(g->known_key, text);
                    Py_DECREF(text);
                    if (same == NULL) {
                        result = NULL;
                        goto done;
                    }
                    text = same;
                }
                int slot = (field >> 3) - 1;
                Py_SETREF(parts[slot], text);
                pos += (Py_ssize_t)v;
            }
            PyObject *triple = PyTuple_Pack(3, parts[0], parts[1], parts[2]);
            for (int i = 0; i < 3; i++) {
                Py_CLEAR(parts[i]);
            }
            if (triple == NULL) {
                result = NULL;
                goto done;
            }
            /* Attribute(*triple): a NamedTuple is made as tuple.__new__ makes it. */
            PyObject *wrapped = PyTuple_Pack(1, triple);
            Py_DECREF(triple);
            if (wrapped == NULL) {
                result = NULL;
                goto done;
            }
            PyObject *attr = PyTuple_Type.tp_new((PyTypeObject *)g->attr_cls, wrapped, NULL);
            Py_DECREF(wrapped);
            if (attr == NULL || PyList_Append(attributes, attr) < 0) {
                Py_XDECREF(attr);
                result = NULL;
                goto done;
            }
            Py_DECREF(attr);
        }
        else if (tag != 0x22 && tag != 0x2A) {  /* registered_saver, has_checkpoint_values */
            goto done;  /* slot_variables (rare) and anything unexpected */
        }
        pos = stop;
    }
    {
        PyObject *attrs = PyList_AsTuple(attributes);
        if (attrs == NULL) {
            result = NULL;
            goto done;
        }
        PyObject *id = PyLong_FromSsize_t(node_id);
        if (id == NULL) {
            Py_DECREF(attrs);
            result = NULL;
            goto done;
        }
        PyObject *empty_tuple = PyTuple_New(0);
        PyObject *args[3] = {id, children ? children : empty_tuple, attrs};
        result = empty_tuple ? PyObject_Vectorcall(g->node_cls, args, 3, NULL) : NULL;
        Py_XDECREF(empty_tuple);
        Py_DECREF(id);
        Py_DECREF(attrs);
    }
done:
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(parts[i]);
    }
    Py_XDECREF(children);
    Py_DECREF(attributes);
    return result;
}

/* scan_graph(data, known_key, node_cls, attr_cls, irregular) -> list of nodes, or None
 *
 * The nodes of a TrackableObjectGraph, as objgraph._scan_nodes gives them: a node encoded
 * otherwise than TensorFlow encodes it is made by irregular(node_id, start, stop) from
 * data[start:stop]; None when the framing of the nodes is not the one expected. */
static PyObject *
scan_graph(PyObject *self, PyObject *args)
{
    PyObject *data_obj, *known_key, *node_cls, *attr_cls, *irregular;
    if (!PyArg_ParseTuple(args, "SOOO!O", &data_obj, &known_key, &node_cls, &PyType_Type,
                          &attr_cls, &irregular)) {
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)attr_cls, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "scan_graph: attr_cls must be a tuple type");
        return NULL;
    }
    Graph g = {
        (const unsigned char *)PyBytes_AS_STRING(data_obj), PyBytes_GET_SIZE(data_obj),
        PyDict_New(), known_key, node_cls, attr_cls, PyUnicode_FromStringAndSize("", 0),
    };
    PyObject *nodes = PyList_New(0);
    PyObject *result = NULL;
    if (g.strings == NULL || g.empty == NULL || nodes == NULL) {
        goto done;
    }
    const unsigned char *data = g.data;
    Py_ssize_t pos = 0, end = g.size;
    while (pos < end) {
        if (data[pos] != 0x0A || pos + 1 >= end) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        Py_ssize_t p = pos + 1;
        uint64_t length;
        if (!graph_varint(&g, &p, &length) || length > (uint64_t)(end - p)) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        Py_ssize_t stop = p + (Py_ssize_t)length;
        Py_ssize_t node_id = PyList_GET_SIZE(nodes);
        PyObject *node = scan_node(&g, node_id, p, stop);
        if (node == IRREGULAR) {
            node = PyObject_CallFunction(irregular, "nnn", node_id, p, stop);
        }
        if (node == NULL || PyList_Append(nodes, node) < 0) {
            Py_XDECREF(node);
            goto done;
        }
        Py_DECREF(node);
        pos = stop;
    }
    result = Py_NewRef(nodes);
done:
    Py_XDECREF(nodes);
    Py_XDECREF(g.strings);
    Py_XDECREF(g.empty);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_block", scan_block, METH_VARARGS,
     "scan_block(block, last_key, header_first, dtypes, string_layout, shapes, stored_cls, "
     "values) -> (last_key, header, max_shard) | None"},
    {"scan_graph", scan_graph, METH_VARARGS,
     "scan_graph(data, known_key, node_cls, attr_cls, irregular) -> list | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ckptctl._scan",
    "The index-block and object-graph decoders of a listing, in C (see _scan.c).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}

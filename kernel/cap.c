// SPDX-License-Identifier: MIT
// Cap identity: which caps name the same object.
#include "cap.h"

bool cap_has_object(const struct cap *c)
{
    switch (c->type) {
    case RS_CAP_NULL:
    case RS_CAP_UNTYPED:
    case RS_CAP_IRQ_CONTROL:
    case RS_CAP_IOPORT_CONTROL:
    case RS_CAP_IOPORT:
    case RS_CAP_CONSOLE:
    case RS_CAP_SHUTDOWN: return false;
    default: return true;
    }
}

bool cap_same_object(const struct cap *a, const struct cap *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case RS_CAP_NULL: return false;
    case RS_CAP_IRQ_CONTROL:
    case RS_CAP_IOPORT_CONTROL:
    case RS_CAP_CONSOLE:
    case RS_CAP_SHUTDOWN: return true;
    case RS_CAP_IRQ_HANDLER: return a->small == b->small; // line and handler index
    case RS_CAP_IOPORT:
        return cap_ioport_first(a) == cap_ioport_first(b) &&
               cap_ioport_last(a) == cap_ioport_last(b);
    case RS_CAP_UNTYPED:
    case RS_CAP_FRAME: return a->obj == b->obj && a->bits == b->bits;
    default: return a->obj == b->obj;
    }
}

/* SPDX-License-Identifier: MIT */
/* The whole user ABI in one include. */
#pragma once
#include "types.h"
#include "errors.h"
#include "objects.h"
#include "rights.h"
#include "msginfo.h"
#include "ipcbuf.h"
#include "invocation.h"
#include "syscall.h"
#include "fault.h"
#include "bootinfo.h"

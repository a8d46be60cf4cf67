// SPDX-License-Identifier: MIT
// Host tests of init's boot manifest parser (servers/init/manifest.c): every key and its
// default, every rejection with its line number and exact message, and the limits.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "ipc.h"
#include "manifest.h"

static struct manifest m;
static char err[128];

/* Parses a NUL-terminated text; returns manifest_parse's line (0: accepted). */
static unsigned parse(const char *text)
{
    memset(err, 0, sizeof(err));
    return manifest_parse(text, strlen(text), &m, err, sizeof(err));
}

/* The text must be refused at `line` with exactly `msg`. */
static void refused(const char *text, unsigned line, const char *msg)
{
    unsigned got = parse(text);
    cr_assert_eq(got, line, "%s: refused at line %u, expected %u (%s)", text, got, line, err);
    cr_assert_str_eq(err, msg, "for %s", text);
}

/* ---- what is accepted ------------------------------------------------------------------- */

Test(manifest, empty_text_and_comments_start_nothing)
{
    cr_assert_eq(parse(""), 0);
    cr_assert_eq(parse("\n\n   \n\t\n# only a comment\n  # indented comment\n"), 0);
    cr_assert_eq(m.nservers, 0);
    cr_assert_eq(m.ninjects, 0);
}

Test(manifest, server_defaults)
{
    cr_assert_eq(parse("server echo\n"), 0, "%s", err);
    cr_assert_eq(m.nservers, 1);
    const struct manifest_server *s = &m.servers[0];
    cr_assert_str_eq(s->name, "echo");
    cr_assert_str_eq(s->image, "echo", "the image defaults to the server's name");
    cr_assert_eq(s->prio, 100);
    cr_assert_eq(s->persist_pages, 0);
    cr_assert_eq(s->watchdog_ms, 500);
    cr_assert_eq(s->max_restarts, 100);
    cr_assert_eq(s->backoff_ms, 500);
    cr_assert_eq(s->ncaps, 0);
    cr_assert_eq(s->console, 1, "servers print by default");
    cr_assert_eq(s->shutdown, 0, "only a manifest line that says so may power off");
    cr_assert_eq(s->line, 1);
}

Test(manifest, console_and_shutdown_keys)
{
    cr_assert_eq(parse("server quiet console=0\nserver ender shutdown=1 console=1\n"), 0, "%s",
                 err);
    cr_assert_eq(m.servers[0].console, 0);
    cr_assert_eq(m.servers[0].shutdown, 0);
    cr_assert_eq(m.servers[1].console, 1);
    cr_assert_eq(m.servers[1].shutdown, 1);
    refused("server a shutdown=2\n", 1, "shutdown=2: 0 or 1");
    refused("server a console=7\n", 1, "console=7: 0 or 1");
    refused("server a shutdown=yes\n", 1, "bad number 'yes' for shutdown");
}

Test(manifest, every_server_key)
{
    cr_assert_eq(parse("server echo\n"
                       "server hangtest image=echotest prio=254 persist=64 watchdog=0 restarts=0 "
                       "backoff=20 caps=echo,kv\n"
                       "server kv\n"),
                 0, "%s", err);
    cr_assert_eq(m.nservers, 3);
    const struct manifest_server *s = &m.servers[1];
    cr_assert_str_eq(s->name, "hangtest");
    cr_assert_str_eq(s->image, "echotest");
    cr_assert_eq(s->prio, 254);
    cr_assert_eq(s->persist_pages, 64);
    cr_assert_eq(s->watchdog_ms, 0);
    cr_assert_eq(s->max_restarts, 0);
    cr_assert_eq(s->backoff_ms, 20);
    cr_assert_eq(s->ncaps, 2);
    cr_assert_str_eq(s->caps[0], "echo");
    cr_assert_str_eq(s->caps[1], "kv", "caps may name a server declared further down");
    cr_assert_eq(s->line, 2);
    cr_assert_eq(m.servers[2].line, 3);
}

Test(manifest, later_keys_override_earlier_ones)
{
    cr_assert_eq(parse("server a prio=5 prio=7 caps=a caps=a\n"), 0, "%s", err);
    cr_assert_eq(m.servers[0].prio, 7);
    cr_assert_eq(m.servers[0].ncaps, 2, "caps= adds to the list");
}

Test(manifest, tabs_trailing_comments_and_no_final_newline)
{
    cr_assert_eq(parse("\tserver\techo \t prio=3   # the sample server\nserver kv"), 0, "%s", err);
    cr_assert_eq(m.nservers, 2);
    cr_assert_eq(m.servers[0].prio, 3);
    cr_assert_str_eq(m.servers[1].name, "kv");
}

Test(manifest, inject_defaults_and_every_key)
{
    cr_assert_eq(parse("server echo\n"
                       "inject target=echo kind=hang\n"
                       "inject target=echo kind=random at=3000 every=2000 count=1000\n"),
                 0, "%s", err);
    cr_assert_eq(m.ninjects, 2);
    const struct manifest_inject *j = &m.injects[0];
    cr_assert_str_eq(j->target, "echo");
    cr_assert_eq(j->kind, IPC_INJECT_HANG);
    cr_assert_eq(j->at_ms, 0);
    cr_assert_eq(j->every_ms, 0);
    cr_assert_eq(j->count, 1, "one injection unless count= says otherwise");
    cr_assert_eq(j->line, 2);
    j = &m.injects[1];
    cr_assert_eq(j->kind, IPC_INJECT_RANDOM);
    cr_assert_eq(j->at_ms, 3000);
    cr_assert_eq(j->every_ms, 2000);
    cr_assert_eq(j->count, 1000);
    cr_assert_eq(j->line, 3);
}

Test(manifest, every_fault_kind_by_name)
{
    const char *names[] = {"kill",    "null",   "wild",    "hang",   "random",
                           "corrupt", "garble", "exhaust", "restart"};
    const unsigned kinds[] = {IPC_INJECT_KILL,   IPC_INJECT_NULL,    IPC_INJECT_WILD,
                              IPC_INJECT_HANG,   IPC_INJECT_RANDOM,  IPC_INJECT_CORRUPT,
                              IPC_INJECT_GARBLE, IPC_INJECT_EXHAUST, IPC_INJECT_RESTART};
    for (unsigned i = 0; i < 9; i++) {
        char text[80];
        snprintf(text, sizeof(text), "server a\ninject target=a kind=%s\n", names[i]);
        cr_assert_eq(parse(text), 0, "%s", err);
        cr_assert_eq(m.injects[0].kind, kinds[i], "kind=%s", names[i]);
        cr_assert_eq(manifest_inject_kind(names[i]), (int)kinds[i]);
        cr_assert_str_eq(manifest_inject_names[kinds[i]], names[i]);
    }
    cr_assert_eq(manifest_inject_kind("none"), -1, "'none' is no fault to inject");
    cr_assert_eq(manifest_inject_kind("KILL"), -1, "names are case-sensitive");
}

Test(manifest, find_by_name)
{
    cr_assert_eq(parse("server echo\nserver kv\n"), 0, "%s", err);
    cr_assert_eq(manifest_find(&m, "echo"), 0);
    cr_assert_eq(manifest_find(&m, "kv"), 1);
    cr_assert_eq(manifest_find(&m, "ech"), -1);
    cr_assert_eq(manifest_find(&m, ""), -1);
}

Test(manifest, largest_accepted_values)
{
    // 23 characters: the longest name (MANIFEST_NAME includes the terminating NUL)
    cr_assert_eq(
        parse("server abcdefghijklmnopqrstuvw watchdog=100000000 restarts=100000000 "
              "backoff=100000000 image=ABCDEFGHIJKLMNOPQRSTUVW\n"
              "inject target=abcdefghijklmnopqrstuvw kind=kill at=100000000 every=100000000 "
              "count=100000000\n"),
        0, "%s", err);
    cr_assert_eq(m.servers[0].watchdog_ms, MANIFEST_MAX_NUMBER);
    cr_assert_eq(m.servers[0].backoff_ms, MANIFEST_MAX_NUMBER);
    cr_assert_str_eq(m.servers[0].image, "ABCDEFGHIJKLMNOPQRSTUVW");
    cr_assert_eq(m.injects[0].count, MANIFEST_MAX_NUMBER);
}

/* ---- limits ------------------------------------------------------------------------------ */

/* n lines "server sK" (K = 0..n-1) followed by `tail`. */
static const char *servers_then(unsigned n, const char *tail)
{
    static char text[4096];
    size_t len = 0;
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "server s%u\n", i);
    snprintf(text + len, sizeof(text) - len, "%s", tail);
    return text;
}

Test(manifest, at_most_16_servers)
{
    cr_assert_eq(parse(servers_then(MANIFEST_SERVERS, "")), 0, "%s", err);
    cr_assert_eq(m.nservers, MANIFEST_SERVERS);
    refused(servers_then(MANIFEST_SERVERS, "server one-too-many\n"), 17, "more than 16 servers");
}

Test(manifest, at_most_16_injects)
{
    char tail[1024] = "";
    for (unsigned i = 0; i < MANIFEST_INJECTS; i++) strcat(tail, "inject target=s0 kind=kill\n");
    cr_assert_eq(parse(servers_then(1, tail)), 0, "%s", err);
    cr_assert_eq(m.ninjects, MANIFEST_INJECTS);
    strcat(tail, "inject target=s0 kind=null\n");
    refused(servers_then(1, tail), 18, "more than 16 injects");
}

/* The campaign's keys (tools/campaign.py): kinds= for kind=random, seed=, jitter=; owed=. */
Test(manifest, campaign_keys)
{
    cr_assert_eq(parse(servers_then(1, "inject target=s0 kind=random kinds=corrupt,garble,exhaust,"
                                       "restart seed=77 jitter=30 every=10\n")),
                 0, "%s", err);
    const struct manifest_inject *j = &m.injects[0];
    cr_assert_eq(j->kinds, 1u << IPC_INJECT_CORRUPT | 1u << IPC_INJECT_GARBLE |
                               1u << IPC_INJECT_EXHAUST | 1u << IPC_INJECT_RESTART);
    cr_assert_eq(j->seed, 77);
    cr_assert_eq(j->jitter_ms, 30);
    cr_assert_eq(j->every_ms, 10);
    refused(servers_then(1, "inject target=s0 kind=random kinds=kill,random\n"), 2,
            "kinds: 'random' is no fault kind");
    refused(servers_then(1, "inject target=s0 kind=random kinds=kill,,null\n"), 2,
            "bad fault kind in kinds");
    cr_assert_eq(parse("server a\nserver b owed=0\nserver c owed=5\n"), 0, "%s", err);
    cr_assert_eq(m.servers[0].owed_ticks, MANIFEST_DEFAULT_OWED);
    cr_assert_eq(m.servers[1].owed_ticks, 0);
    cr_assert_eq(m.servers[2].owed_ticks, 5);
    refused("server a owed=101\n", 1, "owed 101 ticks: at most 100");
}

Test(manifest, at_most_8_caps)
{
    cr_assert_eq(parse(servers_then(8, "server c caps=s0,s1,s2,s3,s4,s5,s6,s7\n")), 0, "%s", err);
    cr_assert_eq(m.servers[8].ncaps, MANIFEST_CAPS);
    refused(servers_then(8, "server c caps=s0,s1,s2,s3,s4,s5,s6,s7,s0\n"), 9, "more than 8 caps");
    refused(servers_then(8, "server c caps=s0,s1,s2,s3 caps=s4,s5,s6,s7,s0\n"), 9,
            "more than 8 caps");
}

Test(manifest, at_most_16_words_per_line)
{
    const char *words16 =
        "server a prio=1 prio=2 prio=3 prio=4 prio=5 prio=6 prio=7 prio=8 prio=9 prio=10 "
        "prio=11 prio=12 prio=13 prio=14\n";
    cr_assert_eq(parse(words16), 0, "%s", err);
    cr_assert_eq(m.servers[0].prio, 14);
    refused("server a prio=1 prio=2 prio=3 prio=4 prio=5 prio=6 prio=7 prio=8 prio=9 prio=10 "
            "prio=11 prio=12 prio=13 prio=14 prio=15\n",
            1, "too many words");
}

Test(manifest, lines_shorter_than_512_characters)
{
    char text[1100];
    // "server a" and spaces up to 511 characters: accepted
    memset(text, ' ', sizeof(text));
    memcpy(text, "server a", 8);
    text[511] = '\n';
    text[512] = 0;
    cr_assert_eq(parse(text), 0, "%s", err);
    text[511] = ' ';
    text[512] = '\n';
    text[513] = 0;
    refused(text, 1, "line too long");
    char two[1200];
    snprintf(two, sizeof(two), "server b\n%s", text);
    refused(two, 2, "line too long");
}

/* ---- every rejection, with its line ------------------------------------------------------- */

Test(manifest, unknown_directive)
{
    refused("server echo\nservr kv\n", 2, "unknown directive 'servr'");
    refused("prio=3\n", 1, "unknown directive 'prio=3'");
}

Test(manifest, server_needs_a_name)
{
    refused("server\n", 1, "server needs a name");
    refused("# start\nserver prio=3\n", 2, "server needs a name");
}

Test(manifest, names_too_long_or_empty)
{
    refused("server abcdefghijklmnopqrstuvwx\n", 1,
            "name 'abcdefghijklmnopqrstuvwx' empty or too long");
    refused("server a image=ABCDEFGHIJKLMNOPQRSTUVWX\n", 1,
            "name 'ABCDEFGHIJKLMNOPQRSTUVWX' empty or too long");
    refused("server a image=\n", 1, "name '' empty or too long");
    refused("server a\ninject target= kind=kill\n", 2, "name '' empty or too long");
    refused("server a\ninject target=abcdefghijklmnopqrstuvwx kind=kill\n", 2,
            "name 'abcdefghijklmnopqrstuvwx' empty or too long");
}

Test(manifest, duplicate_server_names)
{
    refused("server echo\nserver kv\n\nserver echo prio=3\n", 4, "server 'echo' twice");
}

Test(manifest, key_without_value)
{
    refused("server a prio\n", 1, "expected key=value, got 'prio'");
    refused("server a\ninject target=a kill\n", 2, "expected key=value, got 'kill'");
}

Test(manifest, unknown_keys)
{
    refused("server a priority=3\n", 1, "unknown key 'priority'");
    refused("server a imgae=echo\n", 1, "unknown key 'imgae'"); // a typo, not a bad number
    refused("server a =3\n", 1, "unknown key ''");
    refused("server a\ninject target=a kind=kill when=1\n", 2, "unknown key 'when'");
    refused("server a\ninject target=a kind=kill prio=1\n", 2, "unknown key 'prio'");
}

Test(manifest, bad_numbers)
{
    refused("server a prio=x\n", 1, "bad number 'x' for prio");
    refused("server a prio=\n", 1, "bad number '' for prio");
    refused("server a prio=-1\n", 1, "bad number '-1' for prio");
    refused("server a persist=0x10\n", 1, "bad number '0x10' for persist");
    refused("server a watchdog=100000001\n", 1, "bad number '100000001' for watchdog");
    refused("server a restarts=99999999999999999999999\n", 1,
            "bad number '99999999999999999999999' for restarts");
    refused("server a backoff=1.5\n", 1, "bad number '1.5' for backoff");
    refused("server a\ninject target=a kind=kill at=soon\n", 2, "bad number 'soon' for at");
    refused("server a\ninject target=a kind=kill every=\n", 2, "bad number '' for every");
    refused("server a\ninject target=a kind=kill count=4294967297\n", 2,
            "bad number '4294967297' for count");
}

Test(manifest, prio_and_persist_limits)
{
    refused("server a prio=255\n", 1, "prio 255 above 254 (init runs at 255)");
    refused("server a persist=65\n", 1, "persist 65 pages: at most 64");
}

Test(manifest, bad_caps_lists)
{
    refused("server a\nserver b caps=a,,a\n", 2, "bad service name in caps");
    refused("server a\nserver b caps=,a\n", 2, "bad service name in caps");
    refused("server a\nserver b caps=abcdefghijklmnopqrstuvwx\n", 2, "bad service name in caps");
}

Test(manifest, caps_naming_unknown_servers)
{
    // found only once the whole file is read (caps may name later servers), yet reported at
    // the line of the server that names it
    refused("server echo\nserver client caps=echo,ecko\nserver kv\n", 2,
            "server 'client': caps names unknown 'ecko'");
    refused("server a caps=a\nserver b caps=zz\n# end\n", 2, "server 'b': caps names unknown 'zz'");
}

Test(manifest, inject_needs_target_and_kind)
{
    refused("server a\ninject kind=kill\n", 2, "inject needs target= and kind=");
    refused("server a\ninject target=a\n", 2, "inject needs target= and kind=");
    refused("inject\n", 1, "inject needs target= and kind=");
}

Test(manifest, unknown_fault_kinds)
{
    refused("server a\ninject target=a kind=boom\n", 2, "unknown fault kind 'boom'");
    refused("server a\ninject target=a kind=none\n", 2, "unknown fault kind 'none'");
}

Test(manifest, inject_target_unknown)
{
    refused("server a\ninject target=b kind=kill\nserver c\n", 2, "inject target 'b' unknown");
}

Test(manifest, first_error_wins)
{
    refused("server a prio=x\nbogus\n", 1, "bad number 'x' for prio");
}

Test(manifest, error_message_truncated_to_the_buffer)
{
    char small[8];
    const char *text = "server a priority=3\n";
    cr_assert_eq(manifest_parse(text, strlen(text), &m, small, sizeof(small)), 1);
    cr_assert_str_eq(small, "unknown", "cut at the buffer's size, NUL-terminated");
}

Test(manifest, length_bounds_the_text)
{
    // only the first line is inside the length: the second line's error is not seen
    const char *text = "server a\nbogus\n";
    cr_assert_eq(manifest_parse(text, 9, &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(m.nservers, 1);
}

/* ---- virtual machines (servers/init/vm.c) --------------------------------------------- */

Test(manifest, a_vmm_gets_ram_and_a_persistent_page_by_default)
{
    cr_assert_eq(parse("server vm1 image=vmm guest=hello\n"
                       "server vm2 image=vmm guest=hostile ram=8 persist=2\n"
                       "server echo\n"),
                 0, "%s", err);
    cr_assert_str_eq(m.servers[0].guest, "hello");
    cr_assert_eq(m.servers[0].ram_mib, 4);
    cr_assert_eq(m.servers[0].persist_pages, 2, "the VMM's device state needs two");
    cr_assert_eq(m.servers[1].ram_mib, 8);
    cr_assert_eq(m.servers[1].persist_pages, 2);
    cr_assert_str_eq(m.servers[2].guest, "");
    cr_assert_eq(m.servers[2].ram_mib, 0);
}

Test(manifest, vm_ram_limits)
{
    refused("server vm image=vmm guest=hello ram=3\n", 1,
            "ram 3 MiB: an even number from 2 to 1024");
    refused("server vm image=vmm guest=hello ram=0\n", 1,
            "ram 0 MiB: an even number from 2 to 1024");
    refused("server vm image=vmm guest=hello ram=1026\n", 1,
            "ram 1026 MiB: an even number from 2 to 1024");
    refused("server vm image=vmm ram=4\n", 1, "ram= needs guest= or kernel=");
    cr_assert_eq(parse("server vm image=vmm guest=hello ram=1024\n"), 0, "%s", err);
    cr_assert_eq(m.servers[0].ram_mib, 1024);
    cr_assert_eq(parse("server vm image=vmm kernel=bz ram=1024\n"), 0, "%s", err);
    cr_assert_eq(m.servers[0].ram_mib, 1024);
}

/* ---- Linux guests: kernel=, initrd=, cmdline= ------------------------------------------- */

Test(manifest, a_linux_vm)
{
    cr_assert_eq(parse("server lx image=vmm kernel=linux-bzImage initrd=linux-initrd ram=256 "
                       "prio=90 cmdline=console=ttyS0 rdinit=/init quiet\n"),
                 0, "%s", err);
    const struct manifest_server *s = &m.servers[0];
    cr_assert_str_eq(s->kernel, "linux-bzImage");
    cr_assert_str_eq(s->initrd, "linux-initrd");
    cr_assert_str_eq(s->guest, "");
    cr_assert_str_eq(s->cmdline, "console=ttyS0 rdinit=/init quiet");
    cr_assert_eq(s->ram_mib, 256);
    cr_assert_eq(s->prio, 90);
    cr_assert_eq(s->persist_pages, 2, "a VMM's device state");
    cr_assert(manifest_is_vmm(s));
    // defaults: no initrd, empty command line, 4 MiB
    cr_assert_eq(parse("server lx image=vmm kernel=bz\n"), 0, "%s", err);
    cr_assert_str_eq(m.servers[0].initrd, "");
    cr_assert_str_eq(m.servers[0].cmdline, "");
    cr_assert_eq(m.servers[0].ram_mib, 4);
    cr_assert(!manifest_is_vmm(&(struct manifest_server){0}));
}

Test(manifest, cmdline_is_the_rest_of_the_line)
{
    // spaces, quotes, '=', '#' and more than 16 words; blanks at either end dropped
    cr_assert_eq(parse("server lx kernel=bz cmdline=   a=\"b c\" # not a comment 1 2 3 4 5 6 7 8 9 "
                       "10 11 12 13 14 15 16 \t \r\n"
                       "server next\n"),
                 0, "%s", err);
    cr_assert_str_eq(m.servers[0].cmdline,
                     "a=\"b c\" # not a comment 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16");
    cr_assert_eq(m.nservers, 2);
    // keys after it are part of it
    cr_assert_eq(parse("server lx kernel=bz cmdline=console=ttyS0 ram=8\n"), 0, "%s", err);
    cr_assert_str_eq(m.servers[0].cmdline, "console=ttyS0 ram=8");
    cr_assert_eq(m.servers[0].ram_mib, 4);
    // empty
    cr_assert_eq(parse("server lx kernel=bz cmdline=\n"), 0, "%s", err);
    cr_assert_str_eq(m.servers[0].cmdline, "");
    // a comment line holding cmdline= is still a comment; cmdline= inside a word is no key
    cr_assert_eq(parse("# server lx kernel=bz cmdline=x\n"), 0, "%s", err);
    cr_assert_eq(m.nservers, 0);
    refused("server lx kernel=bz xcmdline=a b\n", 1, "unknown key 'xcmdline'");
}

Test(manifest, cmdline_limit)
{
    char text[700];
    int n = snprintf(text, sizeof(text), "server lx kernel=bz cmdline=");
    memset(text + n, 'c', MANIFEST_CMDLINE - 1);
    strcpy(text + n + MANIFEST_CMDLINE - 1, "\n");
    cr_assert_eq(parse(text), 0, "%s", err);
    cr_assert_eq(strlen(m.servers[0].cmdline), MANIFEST_CMDLINE - 1);
    memset(text + n, 'c', MANIFEST_CMDLINE);
    strcpy(text + n + MANIFEST_CMDLINE, "\n");
    refused(text, 1, "cmdline of 384 characters: at most 383");
}

Test(manifest, linux_keys_rejected)
{
    refused("server lx image=vmm guest=hello kernel=bz\n", 1,
            "guest= and kernel= exclude each other");
    refused("server lx image=vmm kernel=bz guest=hello\n", 1,
            "guest= and kernel= exclude each other");
    refused("server lx image=vmm initrd=rd\n", 1, "initrd= needs kernel=");
    refused("server lx image=vmm guest=hello initrd=rd\n", 1, "initrd= needs kernel=");
    refused("server lx image=vmm cmdline=quiet\n", 1, "cmdline= needs kernel=");
    refused("server lx image=vmm guest=hello cmdline=\n", 1, "cmdline= needs kernel=");
    refused("server lx kernel=\n", 1, "name '' empty or too long");
    refused("server lx kernel=bz initrd=abcdefghijklmnopqrstuvwx\n", 1,
            "name 'abcdefghijklmnopqrstuvwx' empty or too long");
    refused("inject target=a kind=kill cmdline=x\n", 1, "unknown key 'cmdline'");
}

/* ---- devices and channels (servers/init/device.c) ---------------------------------------- */

Test(manifest, device_and_channel_keys)
{
    cr_assert_eq(
        parse("server blk device=virtio-blk\nserver fs dma=4 device=pci:8086:100e\n"
              "channel blk0 client=fs server=blk\nchannel c2 server=fs client=blk pages=3\n"),
        0, "%s", err);
    cr_assert_str_eq(m.servers[0].device, "virtio-blk");
    cr_assert_eq(m.servers[0].dma_pages, MANIFEST_DEFAULT_DMA);
    cr_assert_eq(m.servers[1].dma_pages, 4);
    cr_assert_eq(m.nchannels, 2);
    cr_assert_str_eq(m.channels[0].name, "blk0");
    cr_assert_str_eq(m.channels[0].client, "fs");
    cr_assert_str_eq(m.channels[0].server, "blk");
    cr_assert_eq(m.channels[0].pages, MANIFEST_DEFAULT_CHANNEL);
    cr_assert_eq(m.channels[1].pages, 3);
    cr_assert_eq(parse("server a\n"), 0);
    cr_assert_eq(m.servers[0].dma_pages, 0, "no device, no DMA memory");
}

Test(manifest, channel_rejections)
{
    refused("server a\nserver b\nchannel x client=a\n", 3, "channel needs client= and server=");
    refused("server a\nchannel x client=a server=a\n", 2, "channel between 'a' and itself");
    refused("server a\nchannel x client=a server=z\n", 2, "channel 'x' names unknown 'z'");
    refused("server a\nserver b\nchannel x client=a server=b pages=2\n", 3,
            "channel pages '2': 3 to 256");
    refused("server a\nserver b\nchannel x client=a server=b size=4\n", 3, "unknown key 'size'");
    refused("server a\nserver b\nchannel x client=a server=b\nchannel x client=b server=a\n", 4,
            "channel 'x' twice");
    refused("channel client=a server=b\n", 1, "channel needs a name");
    // one channel more than a server may have: refused on the line of the one too many
    static char text[2048];
    size_t len = (size_t)snprintf(text, sizeof text, "server a\nserver b\n");
    for (unsigned i = 0; i <= MANIFEST_SERVER_CHANNELS; i++)
        len +=
            (size_t)snprintf(text + len, sizeof text - len, "channel c%u client=a server=b\n", i);
    refused(text, 3 + MANIFEST_SERVER_CHANNELS, "server 'a' in more than 16 channels");
    refused("server a dma=0\n", 1, "dma 0 pages: 1 to 256");
    refused("server a dma=257\n", 1, "dma 257 pages: 1 to 256");
}

Test(manifest, a_kernel_vm_may_have_a_disk)
{
    cr_assert_eq(parse("server lx image=vmm kernel=bz disk=img ram=64 cmdline=quiet\n"), 0, "%s",
                 err);
    cr_assert_str_eq(m.servers[0].disk, "img");
    cr_assert_eq(parse("server lx image=vmm kernel=bz\n"), 0, "%s", err);
    cr_assert_str_eq(m.servers[0].disk, "", "no disk unless named");
    refused("server lx image=vmm guest=hello disk=img\n", 1, "disk= needs kernel=");
    refused("server lx image=vmm disk=img\n", 1, "disk= needs kernel=");
    refused("server lx kernel=bz disk=\n", 1, "name '' empty or too long");
}

/*
 * hook_bind.so - make a service share its listening port with nat1_traversal.
 *
 * Preloaded with LD_PRELOAD, this library wraps bind(2).  When an AF_INET or
 * AF_INET6 socket is bound to a non-zero port it first sets SO_REUSEPORT (and
 * for stream sockets SO_REUSEADDR as well), then calls the real bind().  A
 * second process owned by the same user may then bind the same address and
 * port with SO_REUSEPORT, which is what shared-port mode needs (Linux >= 3.9).
 *
 * Environment:
 *   NAT1_HOOK_PORTS  comma-separated port list, e.g. "25565,19132".  When set
 *                    and non-empty, only binds to these ports are touched.
 *                    Entries that are not a number in 1..65535 are ignored.
 *   NAT1_HOOK_QUIET  when set to a non-empty value other than "0", no log line
 *                    is written to stderr.
 *
 * Design notes:
 *   - The caller must see exactly what the real bind() returns: its result and
 *     its errno.  errno is saved before our getsockopt/setsockopt calls and
 *     restored before the real bind() runs, so a failing setsockopt is
 *     invisible to the caller.
 *   - Nothing but bind() is wrapped; nothing is written to stdout.
 *   - The log line is built in a stack buffer and sent with one write(2), so
 *     it never interleaves with the host's stdio buffers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static bind_fn real_bind;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* One bit per port; consulted only when port_filter_active is set. */
static unsigned char allowed_ports[65536 / 8];
static int port_filter_active;
static int quiet;

static void allow_port(unsigned long port)
{
    allowed_ports[port / 8] |= (unsigned char)(1u << (port % 8));
}

static int port_allowed(unsigned port)
{
    if (!port_filter_active)
        return 1;
    return (allowed_ports[port / 8] >> (port % 8)) & 1u;
}

/* Parse "25565, 19132,x,70000" -> {25565, 19132}; bad entries are skipped. */
static void parse_port_list(const char *list)
{
    const char *p = list;

    while (*p != '\0') {
        unsigned long value = 0;
        int digits = 0;
        int bad = 0;

        while (*p == ' ' || *p == '\t')
            p++;
        while (*p != '\0' && *p != ',') {
            if (*p >= '0' && *p <= '9' && digits < 6) {
                value = value * 10 + (unsigned long)(*p - '0');
                digits++;
            } else if (*p == ' ' || *p == '\t') {
                /* trailing blanks are fine, blanks inside a number are not */
                const char *q = p;
                while (*q == ' ' || *q == '\t')
                    q++;
                if (*q != '\0' && *q != ',')
                    bad = 1;
                p = q;
                continue;
            } else {
                bad = 1;
            }
            p++;
        }
        if (!bad && digits > 0 && value >= 1 && value <= 65535)
            allow_port(value);
        if (*p == ',')
            p++;
    }
}

static void init_hook(void)
{
    const char *ports = getenv("NAT1_HOOK_PORTS");
    const char *q = getenv("NAT1_HOOK_QUIET");

    real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (ports != NULL && ports[0] != '\0') {
        port_filter_active = 1;
        parse_port_list(ports);
    }
    quiet = q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
}

/* Async-signal-safe decimal formatting; returns the new end of buf. */
static char *append_uint(char *out, unsigned long value)
{
    char digits[24];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0)
        *out++ = digits[--n];
    return out;
}

static char *append_str(char *out, const char *s)
{
    while (*s != '\0')
        *out++ = *s++;
    return out;
}

static void log_hooked(int fd, int reuseport_errno)
{
    char line[160];
    char *end = line;
    ssize_t ignored;

    if (quiet || fd == STDERR_FILENO)
        return; /* fd 2 is the very socket being bound: stderr is closed */
    end = append_str(end, "Hooked bind: PID=");
    end = append_uint(end, (unsigned long)getpid());
    end = append_str(end, ", FD=");
    end = append_uint(end, (unsigned long)fd);
    end = append_str(end, ", setsockopt SO_REUSEPORT");
    if (reuseport_errno != 0) {
        end = append_str(end, " failed, errno=");
        end = append_uint(end, (unsigned long)reuseport_errno);
    }
    *end++ = '\n';
    ignored = write(STDERR_FILENO, line, (size_t)(end - line));
    (void)ignored;
}

/* Port of an AF_INET/AF_INET6 address, or 0 if addr is not one (or too short). */
static unsigned inet_port(const struct sockaddr *addr, socklen_t len)
{
    sa_family_t family;

    if (addr == NULL || len < (socklen_t)sizeof(sa_family_t))
        return 0;
    memcpy(&family, (const char *)addr + offsetof(struct sockaddr, sa_family), sizeof(family));
    if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, addr, sizeof(sin));
        return ntohs(sin.sin_port);
    }
    if (family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, addr, sizeof(sin6));
        return ntohs(sin6.sin6_port);
    }
    return 0;
}

static void share_port(int fd)
{
    int one = 1;
    int domain = 0;
    int type = 0;
    socklen_t size = sizeof(domain);
    int reuseport_errno = 0;

    /* Trust the socket, not the address: leave AF_UNIX & co alone. */
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0)
        return;
    if (domain != AF_INET && domain != AF_INET6)
        return;
    size = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0)
        return;
    if (type == SOCK_STREAM)
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        reuseport_errno = errno;
    log_hooked(fd, reuseport_errno);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    int saved_errno = errno;
    unsigned port;

    (void)pthread_once(&init_once, init_hook);
    if (real_bind == NULL) {
        errno = ENOSYS;
        return -1;
    }
    port = inet_port(addr, len);
    if (port != 0 && port_allowed(port)) {
        share_port(fd);
        errno = saved_errno;
    }
    return real_bind(fd, addr, len);
}

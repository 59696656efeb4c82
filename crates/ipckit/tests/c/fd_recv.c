/* fd_recv SOCKET : the C twin of examples/fd_recv.rs, with plain recvmsg.
 * Listens on the Unix stream socket SOCKET, accepts one connection, prints
 * "peer pid=P uid=U gid=G", then copies what can be read from every descriptor
 * received (SCM_RIGHTS, any number per message) to stdout, in order, until the peer
 * closes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_PER_MSG 253

static void copy_out(int fd) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fd_recv SOCKET\n");
        return 2;
    }
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 1) < 0) {
        perror("fd_recv: bind");
        return 1;
    }
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        perror("fd_recv: accept");
        return 1;
    }
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        perror("fd_recv: SO_PEERCRED");
        return 1;
    }
    printf("peer pid=%d uid=%u gid=%u\n", cred.pid, cred.uid, cred.gid);
    size_t space = CMSG_SPACE(MAX_PER_MSG * sizeof(int));
    char *control = malloc(space);
    for (;;) {
        char data[4096];
        struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
        struct msghdr msg = {0};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = space;
        ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            perror("fd_recv: recvmsg");
            return 1;
        }
        if (msg.msg_flags & MSG_CTRUNC) {
            fprintf(stderr, "fd_recv: control data truncated\n");
            return 1;
        }
        int got = 0;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
                int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (int i = 0; i < k; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
                    copy_out(fd);
                    got++;
                }
            }
        }
        if (n == 0 && got == 0) break;
    }
    fflush(stdout);
    unlink(argv[1]);
    return 0;
}

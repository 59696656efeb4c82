/* fd_send SOCKET FILE... : the C twin of examples/fd_send.rs, with plain sendmsg.
 * Connects to the Unix stream socket SOCKET, opens each FILE read-only and sends the
 * descriptors with SCM_RIGHTS, at most 253 (SCM_MAX_FD) per message, each message
 * carrying the one byte 'F'. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_PER_MSG 253

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fd_send SOCKET FILE...\n");
        return 2;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("fd_send: connect");
        return 1;
    }
    int nfiles = argc - 2;
    int *fds = calloc(nfiles, sizeof(int));
    for (int i = 0; i < nfiles; i++) {
        fds[i] = open(argv[i + 2], O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            perror(argv[i + 2]);
            return 1;
        }
    }
    for (int first = 0; first < nfiles; first += MAX_PER_MSG) {
        int n = nfiles - first < MAX_PER_MSG ? nfiles - first : MAX_PER_MSG;
        char byte = 'F';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        size_t space = CMSG_SPACE(n * sizeof(int));
        char *control = calloc(1, space);
        struct msghdr msg = {0};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = space;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds + first, n * sizeof(int));
        if (sendmsg(s, &msg, MSG_NOSIGNAL) != 1) {
            perror("fd_send: sendmsg");
            return 1;
        }
        free(control);
    }
    close(s);
    return 0;
}

/* A static program that says something on stderr and dies of SIGSEGV: the
 * service in the empty-root test, where no libc or shell exists. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    const char msg[] = "static-crasher: about to fault\n";
    (void)write(2, msg, sizeof msg - 1);
    raise(SIGSEGV);
    return 1;
}

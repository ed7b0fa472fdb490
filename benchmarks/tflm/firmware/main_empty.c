/* The empty firmware: start-up, link script and libraries as the others, no model. Its size is
 * the baseline every other firmware is compared with. */
int main(void)
{
    return 0;
}

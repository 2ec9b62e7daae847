// placeholder (replaced by the ImageIO work)
int cpng_version(void);

"""UI test of the sample app: a real browser (headless Chromium through Selenium WebDriver) against Stage."""
import os
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

BASE = os.environ.get("STAGE_URL", "http://lb/").rstrip("/")
VERSION = os.environ.get("APP_VERSION", "")
REPORTS = os.environ.get("REPORTS_DIR", "/out")


class HomePageUiTest(unittest.TestCase):
    def setUp(self):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     "--window-size=1280,800"):
            options.add_argument(flag)
        self.browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.addCleanup(self.browser.quit)

    def screenshot(self, name):
        os.makedirs(REPORTS, exist_ok=True)
        self.browser.save_screenshot(os.path.join(REPORTS, name))

    def test_home_page_shows_version_and_navigates_to_about(self):
        self.browser.get(BASE + "/")
        self.screenshot("home.png")
        self.assertIn("Stagecoach sample", self.browser.title)
        text = self.browser.find_element(By.TAG_NAME, "body").text
        self.assertIn("version %s" % VERSION if VERSION else "version", text)
        links = self.browser.find_elements(By.LINK_TEXT, "About")
        self.assertTrue(links, "the home page has no link to About")
        links[0].click()
        self.assertEqual(self.browser.find_element(By.TAG_NAME, "h2").text, "About")
        self.screenshot("about.png")


if __name__ == "__main__":
    unittest.main()

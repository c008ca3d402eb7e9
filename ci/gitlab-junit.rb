# Driver for ci/junit-consumers.sh: runs GitLab's own JUnit parser (lib/gitlab/ci/parsers/test/
# junit.rb, from a local copy of GitLab's source, never committed) on a report and prints what
# GitLab's test widget gets: counts by status, and per test case its suite, classname, name,
# file, the text shown (system_output) and the attachment. The two classes it fills are stand-ins
# that keep what the parser gives them (GitLab's own add the widget's bookkeeping on top).
#   ruby ci/gitlab-junit.rb GITLAB_JUNIT_RB REPORT.xml
# Needs Debian ruby, ruby-activesupport and ruby-nokogiri (GitLab parses with the Nokogiri backend).
require "active_support"
require "active_support/core_ext/hash/conversions"
require "active_support/core_ext/object/blank"
require "nokogiri"
ActiveSupport::XmlMini.backend = "Nokogiri"

module Gitlab
  module Ci
    module Parsers
      ParserError = Class.new(StandardError)
    end

    module Reports
      class TestCase
        STATUS_SUCCESS = "success"
        STATUS_FAILED = "failed"
        STATUS_SKIPPED = "skipped"
        STATUS_ERROR = "error"
        attr_reader :fields

        def initialize(**fields)
          @fields = fields
        end
      end

      class TestSuite
        attr_reader :name, :cases, :error

        def initialize(name)
          @name = name
          @cases = []
        end

        def add_test_case(test_case)
          @cases << test_case
        end

        def set_suite_error(message)
          @error = message
        end
      end
    end
  end
end

load ARGV[0]
suite = Gitlab::Ci::Reports::TestSuite.new("job")
Gitlab::Ci::Parsers::Test::Junit.new.parse!(File.read(ARGV[1]), suite, job: nil)
abort "gitlab: #{suite.error}" if suite.error
counts = suite.cases.group_by { |c| c.fields[:status] }.transform_values(&:size)
puts "gitlab: #{%w[success failed error skipped].map { |s| "#{s}=#{counts.fetch(s, 0)}" }.join(' ')}"
suite.cases.each do |c|
  f = c.fields
  shown = f[:system_output].is_a?(String) ? f[:system_output].lines.first.to_s.strip : f[:system_output].inspect
  puts "  #{f[:status]} #{f[:classname]} #{f[:name]} file=#{f[:file]} | #{shown}"
  puts "    attachment #{f[:attachment]}" if f[:attachment]
end
